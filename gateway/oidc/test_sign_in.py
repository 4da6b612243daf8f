"""Test sign-in through an OIDC connection: an Admin's diagnosis of the connection, in any state.

``/oidc/<slug>/test`` starts an authorization request of its own purpose (``test``) at the provider; the
provider answers at the connection's registered callback, which hands it here. The answer is verified like a
real sign-in (state, PKCE, ID token signature, issuer, audience, nonce, times), then reported, with the outcome a
real sign-in would have, as the connection's last test result. The Admin's session is left as it was and no
member is created or changed.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request
from flask.typing import ResponseReturnValue

from gateway.domain import model as m
from gateway.domain.errors import DomainError, Forbidden
from gateway.oidc.routes import (
    _OLD_SECRET_USED,
    TEST_PURPOSE,
    _group_claim,
    _mapped_role,
    _org_verified,
    _to_provider,
    _verified_claims,
    bp,
    connection_redirect_uri,
    runtime,
)
from gateway.oidc.vendors import authorization_params, identity_from_claims
from gateway.services.oidc_connections import OidcRefused
from gateway.services.test_sign_in import Received
from gateway.storage.oidc_tables import OidcLoginState
from gateway.web.redirects import safe_next
from gateway.web.session_cookie import read_session_token
from gateway.web.signin import request_actor
from gateway.wiring import services

TIME_CLAIMS = ("iat", "exp", "nbf", "auth_time")


def _any_oidc_connection(slug: str) -> m.SsoConnection:
    connection = services().connections.by_slug(slug)
    if connection is None or connection.protocol is not m.ConnectionProtocol.OIDC:
        raise OidcRefused("not_found", f"There is no OpenID Connect connection named {slug!r}.")
    return connection


def _admin_of(connection: m.SsoConnection) -> m.Actor:
    """The signed-in Admin of the connection's organization running the test; ``Forbidden`` otherwise."""
    token = read_session_token()
    signed_in = services().sessions.resolve(token) if token else None
    if signed_in is None or signed_in.member.org_id != connection.org_id or not signed_in.member.is_admin:
        raise Forbidden("Only an Admin of this organization, signed in, can test its connection.")
    return request_actor(m.ActorType.ADMIN, signed_in.member.id, f"test sign-in by {signed_in.member.email}")


@bp.get("/oidc/<slug>/test")
def test_login(slug: str) -> ResponseReturnValue:
    """Start a test sign-in (also on a disabled connection, also before the switch to SSO mode)."""
    connection = _any_oidc_connection(slug)
    _admin_of(connection)
    client = runtime().connections.client_settings(connection)
    return _to_provider(
        TEST_PURPOSE,
        client.metadata,
        client_id=client.client_id,
        redirect_uri=connection_redirect_uri(slug),
        scopes=client.scopes,
        extra={**authorization_params(client, None), "prompt": "login"},
        connection=connection,
    )


def finish_test(slug: str, pending: OidcLoginState) -> ResponseReturnValue:
    """Verify the provider's answer to a test sign-in, save the report, and go back to the console."""
    connection = _any_oidc_connection(slug)
    if pending.connection_id != connection.id:
        raise OidcRefused("state_invalid", "This sign-in response belongs to another connection.")
    actor = _admin_of(connection)
    tests = services().sign_in_tests
    back = redirect(safe_next(pending.next_url, default="/admin/connections"), code=303)
    claims: dict[str, Any] = {}
    try:
        if request.args.get("error"):
            detail = (request.args.get("error_description") or "")[:300]
            raise OidcRefused(
                "idp_error",
                f"The identity provider answered: {request.args['error'][:100]}. {detail}".strip(),
            )
        client = runtime().connections.client_settings(connection)
        claims = _verified_claims(
            client.metadata, pending, client_id=client.client_id, client_secret=client.client_secret,
            redirect_uri=connection_redirect_uri(slug), required=[client.claims.get("email") or "email"],
            optional=_group_claim(client) or [client.claims.get("groups") or "groups"],
            previous_secret=client.previous_client_secret,
        )  # fmt: skip
        old_secret = bool(claims.pop(_OLD_SECRET_USED, False))
        identity = identity_from_claims(client, claims, lambda d: _org_verified(connection.org_id, d))
    except DomainError as error:
        tests.record(
            connection, actor, received=Received(claims=claims) if claims else None, outcome=None, error=error
        )
        return back
    received = Received(
        subject=identity.subject,
        email=identity.email,
        claims=claims,
        groups=list(identity.groups),
        details={
            "issuer": client.metadata.issuer,
            "signature": "ID token signature verified with the provider's published keys (JWKS)",
            "client_secret": "the secret from before the rotation" if old_secret else "the current secret",
            "times": {k: claims[k] for k in TIME_CLAIMS if k in claims},
        },
    )
    outcome = tests.predict(connection, identity.email, _mapped_role(client, claims).role)
    tests.record(connection, actor, received=received, outcome=outcome)
    return back
