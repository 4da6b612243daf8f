"""Logout with an OpenID Provider, both ways.

- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ``/logout`` of a session an OIDC connection
  started sends the browser to the provider's ``end_session_endpoint`` (with ``client_id``, the ID token as
  ``id_token_hint`` when kept, ``post_logout_redirect_uri`` = ``/oidc/<slug>/logged-out``, which the Admin
  registers at the provider, and a ``state``), so the person is signed out at the IdP too.
- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a signed ``logout_token`` to
  ``/oidc/<slug>/backchannel-logout``; once verified (signature with the provider's JWKS, ``iss``, ``aud``,
  ``iat``, the back-channel ``events`` member, no ``nonce``, ``sub`` or ``sid``), the sessions the connection
  started for that subject or provider session end.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, make_response, redirect, request
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.errors import JoseError

from gateway.domain import model as m
from gateway.oidc.routes import bp, runtime
from gateway.oidc.tokens import token_header
from gateway.services.oidc_connections import ASYMMETRIC_ALGS, OidcRefused, check_url
from gateway.web.signin import request_actor
from gateway.wiring import services, settings

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_TOKEN_AGE = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=1)


def post_logout_redirect_uri(slug: str) -> str:
    return settings().url(f"/oidc/{slug}/logged-out")


def logout_hook(signed_in: Any) -> Response | None:
    """For ``/logout``: the redirect to the provider's end-session endpoint, when the session came through an
    OIDC connection whose provider offers one."""
    data = (getattr(getattr(signed_in, "session", None), "data", None) or {}).get("oidc") or {}
    connection_id = data.get("connection")
    if not connection_id:
        return None
    connection = next(
        (c for c in services().connections.list(signed_in.org.id) if c.id == connection_id), None
    )
    if connection is None or connection.protocol is not m.ConnectionProtocol.OIDC:
        return None
    try:
        client = runtime().connections.client_settings(connection)
        endpoint = client.metadata.end_session_endpoint
        if not endpoint:
            return None
        endpoint = check_url(endpoint, "end_session_endpoint", allow_http=not settings().is_production)
    except Exception:  # a misconfigured connection must not stop the local logout
        return None
    params = {
        "client_id": client.client_id,
        "post_logout_redirect_uri": post_logout_redirect_uri(connection.slug),
        "state": services().tokens.issue("lo").token,
    }
    if data.get("id_token"):
        params["id_token_hint"] = data["id_token"]
    response = make_response(redirect(f"{endpoint}?{urlencode(params)}", code=303))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/oidc/<slug>/logged-out")
def logged_out(slug: str) -> ResponseReturnValue:
    """Where the provider sends the browser back after RP-initiated logout."""
    return redirect("/login", code=303)


def _refuse(description: str) -> ResponseReturnValue:
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oidc/<slug>/backchannel-logout")
def backchannel_logout(slug: str) -> ResponseReturnValue:
    connection = services().connections.by_slug(slug)
    if connection is None or connection.protocol is not m.ConnectionProtocol.OIDC:
        return _refuse("Unknown connection.")
    token = request.form.get("logout_token") or ""
    try:
        claims = verify_logout_token(connection, token)
    except OidcRefused as error:
        return _refuse(error.message)
    actor = request_actor(m.ActorType.MEMBER, connection.id, f"oidc back-channel logout {connection.slug}")
    services().sso_logout.end_oidc_sessions(
        connection, sub=claims.get("sub"), sid=claims.get("sid"), actor=actor
    )
    response = make_response("", 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def verify_logout_token(connection: m.SsoConnection, token: str) -> dict[str, Any]:
    rt = runtime()
    client = rt.connections.client_settings(connection)
    metadata = client.metadata
    if not token or token.count(".") != 2:
        raise OidcRefused("logout_token_malformed", "The logout token is not a signed JWT.")
    header = token_header(token)
    alg = header.get("alg")
    permitted = [a for a in metadata.id_token_signing_alg_values_supported if a in ASYMMETRIC_ALGS] or [
        "RS256"
    ]
    if alg not in permitted:
        raise OidcRefused("logout_token_bad_alg", f"The logout token's algorithm {alg!r} is not accepted.")
    kid = header.get("kid")
    key = rt.jwks.key_for(metadata.jwks_uri, kid if isinstance(kid, str) else None, alg)
    try:
        claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
    except JoseError as exc:
        raise OidcRefused(
            "logout_token_bad_signature", f"The logout token's signature is not valid ({exc.error})."
        ) from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    now = rt.clock()
    issued = claims.get("iat")
    events = claims.get("events")
    if claims.get("iss") != metadata.issuer:
        raise OidcRefused("logout_token_bad_iss", "The logout token comes from another issuer.")
    if client.client_id not in audiences:
        raise OidcRefused("logout_token_bad_aud", "The logout token is for another client.")
    if not isinstance(issued, int | float) or not (
        now.timestamp() - MAX_TOKEN_AGE.total_seconds()
        <= issued
        <= now.timestamp() + CLOCK_SKEW.total_seconds()
    ):
        raise OidcRefused("logout_token_bad_iat", "The logout token is too old or from the future.")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise OidcRefused("logout_token_bad_events", "The logout token is not a back-channel logout event.")
    if "nonce" in claims:
        raise OidcRefused("logout_token_nonce", "A logout token must not carry a nonce.")
    if not claims.get("sub") and not claims.get("sid"):
        raise OidcRefused(
            "logout_token_no_subject", "The logout token names neither a subject nor a session."
        )
    return claims
