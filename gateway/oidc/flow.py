"""The authorization code flow with PKCE, through Authlib's requests client.

PKCE is on only because ``code_challenge_method="S256"`` is passed: Authlib sends no ``code_challenge``
without it (one of the pitfalls the tests pin down).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from gateway.services.oidc_connections import (
    HTTP_TIMEOUT_SECONDS,
    MAX_DOCUMENT_BYTES,
    OidcRefused,
    StartedLogin,
)
from gateway.services.outbound import OutboundPolicy

PKCE_METHOD = "S256"


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    started: StartedLogin,
    extra: dict[str, str] | None = None,
) -> str:
    with OAuth2Session(
        client_id, redirect_uri=redirect_uri, scope=" ".join(scopes), code_challenge_method=PKCE_METHOD
    ) as client:
        url, _ = client.create_authorization_url(
            endpoint,
            state=started.state,
            nonce=started.nonce,
            code_verifier=started.code_verifier,
            response_type="code",
            **(extra or {}),
        )
    return url


def exchange_code(
    endpoint: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str | None,
    code_verifier: str,
    outbound: OutboundPolicy,
) -> dict[str, Any]:
    """Trade the authorization code (and the PKCE verifier) for tokens at the provider's token endpoint
    (checked against the outbound address policy first; redirects are not followed)."""
    if not code:
        raise OidcRefused("code_missing", "The sign-in response carries no authorization code.")
    endpoint = outbound.check(endpoint, what="provider's token_endpoint", field="token_endpoint")
    with OAuth2Session(
        client_id,
        client_secret,
        redirect_uri=redirect_uri,
        code_challenge_method=PKCE_METHOD,
        token_endpoint_auth_method="client_secret_basic",
    ) as client:
        outbound.pin(client)
        try:
            token = client.fetch_token(
                endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                timeout=HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except AuthlibBaseError as exc:
            raise OidcRefused(
                "token_exchange_failed",
                f"The identity provider refused to complete the sign-in ({exc.error}).",
                error=exc.error,
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise OidcRefused(
                "provider_unreachable",
                f"The identity provider's token endpoint could not be used ({type(exc).__name__}).",
            ) from None
    return dict(token)


def exchange_code_rotating(
    endpoint: str, *, client_secrets: Sequence[str], **options: Any
) -> tuple[dict[str, Any], int]:
    """``exchange_code`` with each secret in turn (the current one, then the one from before a rotation),
    trying the next only when the provider refuses the client itself (``invalid_client``: client
    authentication fails before the code is looked at, so the code is still unused). Returns the tokens and
    the index of the secret that worked."""
    for index, secret in enumerate(client_secrets):
        try:
            return exchange_code(endpoint, client_secret=secret, **options), index
        except OidcRefused as refusal:
            if refusal.details.get("error") != "invalid_client" or index == len(client_secrets) - 1:
                raise
    raise OidcRefused("connection_misconfigured", "This OIDC connection has no client secret.")


def fetch_userinfo(
    endpoint: str,
    access_token: str,
    *,
    outbound: OutboundPolicy,
    get: Callable[..., requests.Response] | None = None,
) -> dict[str, Any]:
    """The UserInfo response for the access token (for providers whose ID token is "thin", like Okta's),
    from an endpoint that passes the outbound address policy, without following redirects."""
    endpoint = outbound.check(endpoint, what="provider's userinfo_endpoint", field="userinfo_endpoint")
    get = get or outbound.session().get
    try:
        response = get(
            endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise OidcRefused(
            "provider_unreachable",
            f"The identity provider's userinfo endpoint failed ({type(exc).__name__}).",
        ) from None
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise OidcRefused("provider_error", f"The userinfo endpoint answered HTTP {response.status_code}.")
    try:
        data = response.json()
    except ValueError:
        raise OidcRefused("provider_error", "The userinfo endpoint did not return JSON.") from None
    if not isinstance(data, dict):
        raise OidcRefused("provider_error", "The userinfo endpoint did not return a JSON object.")
    return data


def merge_userinfo(id_claims: dict[str, Any], userinfo: dict[str, Any]) -> dict[str, Any]:
    """Claims from UserInfo added to the ID token's (which win). OpenID Connect Core §5.3.2: the ``sub``
    of the UserInfo response must be the ID token's, or it may describe someone else."""
    if userinfo.get("sub") != id_claims.get("sub"):
        raise OidcRefused("userinfo_mismatch", "The identity provider's userinfo is about another person.")
    return {**userinfo, **id_claims}
