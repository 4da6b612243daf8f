"""Checking an ID token: header, signature, then claims, with every check the gateway relies on spelled out.

Authlib pitfalls handled here: ``claims_options`` is always passed with ``iss`` *and* ``aud`` (Authlib checks
``aud`` only when asked, and passing any ``claims_options`` drops its default ``iss`` check); ``alg`` must be
an asymmetric algorithm the provider announced (no ``none``, no HS256 signed with the public key); the key
comes from :class:`gateway.oidc.jwks.JwksCache` (a lifetime, rate-limited refetch on unknown ``kid``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import Key

from gateway.services.oidc_connections import ASYMMETRIC_ALGS, OidcRefused

CLOCK_SKEW_SECONDS = 60

KeyLookup = Callable[[str | None, str], Key]


def token_header(id_token: str) -> dict[str, Any]:
    try:
        segment = id_token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError, AttributeError, RecursionError):
        raise OidcRefused("id_token_malformed", "The ID token is not a well-formed JWT.") from None
    if not isinstance(header, dict) or id_token.count(".") != 2:
        raise OidcRefused("id_token_malformed", "The ID token is not a well-formed signed JWT.")
    return header


def verify_id_token(
    id_token: str,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    allowed_algs: Sequence[str],
    key_for: KeyLookup,
    now: datetime,
    access_token: str | None = None,
) -> dict[str, Any]:
    """The verified claims of ``id_token``, or ``OidcRefused`` saying which check failed."""
    if not isinstance(id_token, str) or not id_token:
        raise OidcRefused("id_token_missing", "The identity provider returned no ID token.")
    header = token_header(id_token)
    alg = header.get("alg")
    permitted = [a for a in allowed_algs if a in ASYMMETRIC_ALGS] or ["RS256"]
    if not isinstance(alg, str) or alg not in permitted:
        raise OidcRefused(
            "id_token_bad_alg",
            f"The ID token's signing algorithm {alg!r} is not accepted; expected one of {', '.join(permitted)}.",
        )
    kid = header.get("kid")
    key = key_for(kid if isinstance(kid, str) else None, alg)
    try:
        token = jwt.decode(id_token, key, algorithms=[alg])
    except JoseError as exc:
        raise OidcRefused(
            "id_token_bad_signature", f"The ID token's signature is not valid ({exc.error})."
        ) from None
    options = {
        "iss": {"essential": True, "values": [issuer]},
        "aud": {"essential": True, "values": [client_id]},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "nonce": {"essential": True, "values": [nonce]},
    }
    params = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now.timestamp()), leeway=CLOCK_SKEW_SECONDS)
    except ExpiredTokenError:
        raise OidcRefused("id_token_expired", "The ID token has expired. Start the sign-in again.") from None
    except JoseError as exc:
        claim = getattr(exc, "claim", None) or "claims"
        raise OidcRefused(
            f"id_token_bad_{claim}", f"The ID token was refused: {exc.description or exc.error}."
        ) from None
    return dict(claims)
