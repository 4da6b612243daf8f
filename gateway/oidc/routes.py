"""OpenID Connect endpoints: an organization's connection (``/oidc/<connection>/login`` and ``/callback``)
and the platform login provider (``/login/platform`` and ``/login/platform/callback``).

Every failure is an :class:`OidcRefused` (or another domain error) mapped once, at the bottom, to a page
that says what happened; no failure creates a session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, request
from flask.typing import ResponseReturnValue

from gateway.domain import model as m
from gateway.domain.errors import DomainError, Unavailable
from gateway.oidc.flow import authorization_url, exchange_code_rotating, fetch_userinfo, merge_userinfo
from gateway.oidc.runtime import OidcRuntime
from gateway.oidc.tokens import verify_id_token
from gateway.oidc.vendors import authorization_params, identity_from_claims
from gateway.services.group_overage import GraphCredentials, SignInRole, oidc_groups_claim, sign_in_role
from gateway.services.members import Profile
from gateway.services.oidc_connections import (
    OidcClientSettings,
    OidcRefused,
    ProviderMetadata,
    StartedLogin,
)
from gateway.storage.oidc_tables import OidcLoginState
from gateway.web.login import accept_invitation_with_identity, sign_in_with_platform_identity
from gateway.web.redirects import safe_next
from gateway.web.signin import complete_sso_sign_in, message_page, refusal_page, unavailable_page
from gateway.wiring import services, settings

bp = Blueprint("oidc", __name__)
log = logging.getLogger(__name__)

BINDING_COOKIE = "gw_oidc_binding"
TEST_PURPOSE = "test"
"""Pending sign-ins of a test sign-in (``gateway.oidc.test_sign_in``): answered at the same callback."""
_OLD_SECRET_USED = "__gateway_previous_client_secret_used"
"""Marks claims obtained with the client secret from before a rotation (never a claim name a provider uses)."""
PLATFORM_CALLBACK = "/login/platform/callback"

STATUS = {
    "not_found": 404,
    "state_missing": 400,
    "state_invalid": 400,
    "state_mismatch": 400,
    "state_expired": 400,
    "code_missing": 400,
    "provider_unreachable": 502,
    "provider_error": 502,
    "platform_unconfigured": 503,
    "connection_misconfigured": 503,
    "secret_unreadable": 503,
}

TITLES = {
    "state_missing": "This sign-in cannot be completed",
    "state_invalid": "This sign-in cannot be completed",
    "state_mismatch": "This sign-in was started in another browser",
    "state_expired": "This sign-in expired",
    "idp_error": "Your identity provider did not sign you in",
    "connection_disabled": "This single sign-on connection is disabled",
    "platform_unconfigured": "Platform sign-in is not available",
}


def runtime() -> OidcRuntime:
    return current_app.extensions["gateway.oidc"]


def connection_redirect_uri(slug: str) -> str:
    return settings().url(f"/oidc/{slug}/callback")


# -- an organization's connection -------------------------------------------------------------------------
def _connection(slug: str) -> m.SsoConnection:
    connection = services().connections.by_slug(slug)
    if connection is None or connection.protocol is not m.ConnectionProtocol.OIDC:
        raise OidcRefused("not_found", f"There is no OpenID Connect connection named {slug!r}.")
    if not connection.is_usable:
        raise OidcRefused(
            "connection_disabled",
            "This organization's OpenID Connect connection is disabled"
            + (" because the organization uses invitations." if connection.suspended else ".")
            + " Ask your Admin how to sign in.",
        )
    return connection


@bp.get("/oidc/<slug>/login")
def connection_login(slug: str) -> ResponseReturnValue:
    connection = _connection(slug)
    client = runtime().connections.client_settings(connection)
    return _to_provider(
        "connection",
        client.metadata,
        client_id=client.client_id,
        redirect_uri=connection_redirect_uri(slug),
        scopes=client.scopes,
        extra=authorization_params(client, request.args.get("login_hint")),
        connection=connection,
    )


@bp.get("/oidc/<slug>/callback")
def connection_callback(slug: str) -> ResponseReturnValue:
    pending = _take_pending("connection", TEST_PURPOSE)
    if pending.purpose == TEST_PURPOSE:
        from gateway.oidc.test_sign_in import finish_test

        return _forget_binding(finish_test(slug, pending))
    connection = _connection(slug)
    if pending.connection_id != connection.id:
        raise OidcRefused("state_invalid", "This sign-in response belongs to another connection.")
    client = runtime().connections.client_settings(connection)
    claims = _verified_claims(
        client.metadata, pending, client_id=client.client_id, client_secret=client.client_secret,
        redirect_uri=connection_redirect_uri(slug),
        required=[client.claims.get("email") or "email"], optional=_group_claim(client),
        previous_secret=client.previous_client_secret,
    )  # fmt: skip
    if client.previous_client_secret and not claims.pop(_OLD_SECRET_USED, False):
        runtime().connections.new_secret_worked(connection)
    identity = identity_from_claims(client, claims, lambda domain: _org_verified(connection.org_id, domain))
    role = _mapped_role(client, claims)
    # The token exchange (and any group lookup) above talks to the provider outside any transaction; the
    # sign-in, the session and their audit rows are then one transaction.
    with services().db.scope(write=True):
        response = complete_sso_sign_in(
            connection,
            identity.email,
            role=role.role,
            audit_details=role.audit,
            profile=Profile(
                display_name=identity.name, given_name=identity.given_name, family_name=identity.family_name
            ),
            next_url=pending.next_url,
            session_data={
                "oidc": {
                    "iss": client.metadata.issuer,
                    "sub": identity.subject,
                    "connection": connection.id,
                    "sid": claims.get("sid"),
                }
            },
        )
    return _forget_binding(response)


def _mapped_role(client: OidcClientSettings, claims: dict[str, Any]) -> SignInRole:
    """Admin or Member from the groups claim when this connection maps groups to roles; otherwise no opinion.
    A claim Entra cut short (group overage) is completed from the endpoint it names, with the connection's
    client credentials; failing that the member keeps their role."""
    claim = oidc_groups_claim(claims, client.claims.get("groups"))
    credentials = GraphCredentials(client.metadata.token_endpoint, client.client_id, client.client_secret)
    return sign_in_role(
        claim,
        client.admin_groups,
        credentials=credentials if client.client_secret else None,
        outbound=runtime().outbound,
    )


def _group_claim(client: OidcClientSettings) -> list[str]:
    """The groups claim is worth a UserInfo request only when groups map to roles on this connection."""
    name = client.claims.get("groups")
    return [name] if name and client.admin_groups else []


def _org_verified(org_id: str, domain: str) -> bool:
    org = services().orgs.org_for_email_domain(domain)
    return org is not None and org.id == org_id


# -- the platform login provider --------------------------------------------------------------------------
@bp.get("/login/platform")
def platform_login() -> ResponseReturnValue:
    rt = runtime()
    metadata = rt.platform.metadata()
    hint = request.args.get("login_hint")
    return _to_provider(
        "platform",
        metadata,
        client_id=rt.platform.login.client_id,
        redirect_uri=settings().url(PLATFORM_CALLBACK),
        scopes=rt.platform.login.scopes,
        extra={"login_hint": hint} if hint else {},
        invitation_token=request.args.get("invitation") or None,
    )


@bp.get(PLATFORM_CALLBACK)
def platform_callback() -> ResponseReturnValue:
    rt = runtime()
    pending = _take_pending("platform")
    metadata = rt.platform.metadata()
    claims = _verified_claims(
        metadata, pending, client_id=rt.platform.login.client_id, client_secret=rt.platform.login.client_secret,
        redirect_uri=settings().url(PLATFORM_CALLBACK), required=["email", "email_verified"],
    )  # fmt: skip
    email = claims.get("email")
    verified = claims.get("email_verified")
    if not isinstance(email, str) or "@" not in email:
        raise OidcRefused("email_missing", f"{rt.platform.login.name} did not share your email address.")
    if verified is not True and str(verified).lower() != "true":
        raise OidcRefused(
            "email_unverified",
            f"{rt.platform.login.name} has not verified your email address, so it cannot be used.",
        )
    subject, provider = str(claims.get("sub")), metadata.issuer
    invitation = rt.logins.invitation_token(pending)
    if invitation:
        response = accept_invitation_with_identity(invitation, email, provider, subject, pending.next_url)
    else:
        response = sign_in_with_platform_identity(email, provider, subject, pending.next_url)
    return _forget_binding(response)


# -- shared steps -----------------------------------------------------------------------------------------
def _to_provider(
    purpose: str,
    metadata: ProviderMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Any,
    extra: dict[str, str],
    connection: m.SsoConnection | None = None,
    invitation_token: str | None = None,
) -> Response:
    next_url = request.args.get("next")
    started: StartedLogin = runtime().logins.begin(
        purpose,
        connection=connection,
        next_url=safe_next(next_url, default="") or None,
        invitation_token=invitation_token,
        browser_secret=request.cookies.get(BINDING_COOKIE),
    )
    url = authorization_url(
        metadata.authorization_endpoint,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        started=started,
        extra=extra,
    )
    response = make_response(redirect(url, code=303))
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        BINDING_COOKIE,
        started.browser_secret,
        max_age=int(runtime().logins.lifetime.total_seconds()),
        httponly=True,
        secure=settings().is_production,
        samesite="Lax",
        path="/",
    )
    return response


def _take_pending(purpose: str, *others: str) -> OidcLoginState:
    """Consume the pending sign-in named by ``state``; an error answer from the provider still consumes it
    (a test sign-in, one of ``others``, reports that error itself)."""
    pending = runtime().logins.take(
        request.args.get("state"), request.cookies.get(BINDING_COOKIE), (purpose, *others)
    )
    error = request.args.get("error")
    if error and pending.purpose == purpose:
        detail = (request.args.get("error_description") or "")[:300]
        raise OidcRefused("idp_error", f"The identity provider answered: {error[:100]}. {detail}".strip())
    return pending


def _verified_claims(
    metadata: ProviderMetadata,
    pending: OidcLoginState,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    previous_secret: str | None = None,
) -> dict[str, Any]:
    """Exchange the code, verify the ID token, and complete it from UserInfo when claims the gateway needs
    are missing (a "thin" ID token). Missing ``required`` claims make a UserInfo failure fatal; missing
    ``optional`` ones (groups) only make it worth asking. ``previous_secret`` (from before a rotation) is
    tried when the provider refuses the current one; the claims then carry ``_OLD_SECRET_USED``."""
    rt = runtime()
    secrets = [client_secret, previous_secret] if previous_secret else [client_secret]
    token, used = exchange_code_rotating(
        metadata.token_endpoint,
        client_id=client_id,
        client_secrets=secrets,
        redirect_uri=redirect_uri,
        code=request.args.get("code"),
        code_verifier=pending.code_verifier,
        outbound=rt.outbound,
    )
    access_token = token.get("access_token")
    claims = verify_id_token(
        token.get("id_token"),
        issuer=metadata.issuer,
        client_id=client_id,
        nonce=pending.nonce,
        allowed_algs=metadata.id_token_signing_alg_values_supported,
        key_for=lambda kid, alg: rt.jwks.key_for(metadata.jwks_uri, kid, alg),
        now=rt.clock(),
        access_token=access_token,
    )
    if used:
        claims = {**claims, _OLD_SECRET_USED: True}
    missing_required = [name for name in required if name and claims.get(name) is None]
    missing_optional = [name for name in optional if name and claims.get(name) is None]
    if not (missing_required or missing_optional) or not metadata.userinfo_endpoint or not access_token:
        return claims
    try:
        userinfo = fetch_userinfo(metadata.userinfo_endpoint, access_token, outbound=rt.outbound)
    except OidcRefused:
        if missing_required:
            raise
        log.info("userinfo unavailable; signing in without %s", ", ".join(missing_optional))
        return claims
    return merge_userinfo(claims, userinfo)


def _forget_binding(response: Response) -> Response:
    response.delete_cookie(
        BINDING_COOKIE, path="/", httponly=True, secure=settings().is_production, samesite="Lax"
    )
    return response


@bp.errorhandler(Unavailable)
def unavailable(error: Unavailable) -> Response:
    return unavailable_page(error)


@bp.errorhandler(DomainError)
def refused(error: DomainError) -> Response:
    """The OIDC adapter's one error mapper: a page that says what happened, and no session."""
    if isinstance(error, OidcRefused):
        log.info("oidc sign-in refused: %s", error.code)
        status = STATUS.get(error.code, 403)
        title = TITLES.get(error.code, "Sign-in refused")
        return message_page(title, error.message, status=status, code=error.code)
    return refusal_page(error, status=404 if error.code == "not_found" else 403)
