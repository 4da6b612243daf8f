"""The demo OpenID Provider's protocol core: authorization requests, codes, the token exchange, UserInfo.

No Flask here: the routes turn HTTP into these calls and map :class:`OAuthError` to responses once.

- Authorization codes are sealed (Fernet: encrypted and authenticated with a key derived from the gateway's
  secret key) and carry the client, redirect URI, PKCE challenge, nonce and person; they live
  ``CODE_LIFETIME``. Each is single use: its id is recorded in the database when it is exchanged, so a
  second exchange fails in whichever process it reaches.
- PKCE is mandatory with ``S256`` (RFC 7636 §4.6); ``plain`` and missing challenges are refused.
- Access tokens are sealed the same way (with another derived key) and only open UserInfo.
- ID tokens are RS256 JWTs (joserfc) with the ``kid`` of the key published at ``/jwks``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt

from gateway.demo_idp.keys import SigningKey
from gateway.domain.errors import Conflict
from gateway.services.base import Clock, TokenFactory
from gateway.services.demo_directory import (
    DemoPerson,
    choose,
    client_secret,
    discovery_document,
    issuer,
    person_for,
    subject_for,
)
from gateway.services.oidc_connections import OidcRefused, SecretBox
from gateway.storage.db import Database
from gateway.storage.demo_idp_tables import DemoIdpStore

CODE_LIFETIME = timedelta(minutes=2)
TOKEN_LIFETIME = timedelta(minutes=10)
# The gateway's own callbacks: an organization's OIDC connection, or the platform login provider.
CALLBACK_PATHS = re.compile(r"^/oidc/[a-z0-9][a-z0-9-]{0,62}/callback$|^/login/platform/callback$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class OAuthError(Exception):
    """An OAuth 2.0 error (RFC 6749 §4.1.2.1 / §5.2). With ``redirect_uri`` it is sent back to the client;
    without, it is shown to the person (the redirect URI itself could not be trusted) or answered as JSON."""

    def __init__(
        self, error: str, description: str, status: int = 400, *,
        redirect_uri: str | None = None, state: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str
    login_hint: str | None = None

    def as_form(self) -> dict[str, str]:
        """The request's parameters, to carry through the sign-in page's form."""
        values = {
            "client_id": self.client_id, "redirect_uri": self.redirect_uri, "scope": self.scope,
            "response_type": "code", "state": self.state, "nonce": self.nonce,
            "code_challenge": self.code_challenge, "code_challenge_method": "S256",
        }  # fmt: skip
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    code: str | None
    redirect_uri: str | None
    code_verifier: str | None
    client_id: str | None
    client_secret: str | None


def _one(params: dict[str, list[str]], name: str, *, max_length: int = 2048) -> str | None:
    """A parameter that must appear at most once (RFC 6749 §3.1) and be of reasonable length."""
    values = params.get(name) or []
    if len(values) > 1:
        raise OAuthError("invalid_request", f"The {name} parameter is repeated.")
    if values and len(values[0]) > max_length:
        raise OAuthError("invalid_request", f"The {name} parameter is too long.")
    return values[0] if values and values[0] != "" else None


class DemoProvider:
    def __init__(
        self, *, public_url: str, secret_key: str, key: SigningKey, db: Database, clock: Clock,
        tokens: TokenFactory,
    ) -> None:  # fmt: skip
        self.public_url = public_url
        self.issuer = issuer(public_url)
        self.secret_key = secret_key
        self.key = key
        self.db = db
        self.clock = clock
        self.tokens = tokens
        self._codes = SecretBox(secret_key, "demo idp authorization code")
        self._access = SecretBox(secret_key, "demo idp access token")

    # -- metadata ------------------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return discovery_document(self.public_url)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk()]}

    # -- /authorize ----------------------------------------------------------------------------------------
    def redirect_allowed(self, redirect_uri: str) -> bool:
        """Only the gateway's own callbacks, exactly (same scheme, host and port as its public URL)."""
        base, target = urlsplit(self.public_url), urlsplit(redirect_uri)
        prefix = base.path.rstrip("/")
        return (
            (target.scheme, target.netloc) == (base.scheme, base.netloc)
            and target.path.startswith(prefix + "/")
            and bool(CALLBACK_PATHS.match(target.path[len(prefix) :]))
            and not target.query
            and not target.fragment
        )

    def authorization_request(self, params: dict[str, list[str]]) -> AuthorizationRequest:
        """Check an authorization request. Until the client and redirect URI are known good, errors are shown
        to the person; after that they go back to the client with its ``state`` (RFC 6749 §4.1.2.1)."""
        client_id = _one(params, "client_id", max_length=200)
        redirect_uri = _one(params, "redirect_uri")
        if not client_id:
            raise OAuthError("invalid_request", "The authorization request names no client_id.")
        if not redirect_uri or not self.redirect_allowed(redirect_uri):
            raise OAuthError(
                "invalid_request",
                f"The redirect_uri {redirect_uri!r} is not one of this gateway's sign-in callbacks "
                f"under {self.public_url}.",
            )
        state = _one(params, "state")

        def refuse(error: str, description: str) -> OAuthError:
            return OAuthError(error, description, redirect_uri=redirect_uri, state=state)

        try:
            response_type = _one(params, "response_type")
            scope = _one(params, "scope") or ""
            nonce = _one(params, "nonce", max_length=512)
            challenge = _one(params, "code_challenge", max_length=128)
            method = _one(params, "code_challenge_method", max_length=20)
            hint = _one(params, "login_hint", max_length=320)
        except OAuthError as exc:
            raise refuse(exc.error, exc.description) from None
        if response_type != "code":
            raise refuse("unsupported_response_type", "Only the authorization code flow (code) is supported.")
        if "openid" not in scope.split():
            raise refuse("invalid_scope", "The openid scope is required.")
        if not challenge:
            raise refuse("invalid_request", "PKCE is required: send a code_challenge with method S256.")
        if method != "S256":
            raise refuse("invalid_request", "Only the S256 code_challenge_method is accepted.")
        if not PKCE_CHALLENGE.match(challenge):
            raise refuse("invalid_request", "The code_challenge is not a base64url SHA-256 value.")
        return AuthorizationRequest(client_id, redirect_uri, scope, state, nonce, challenge, hint)

    def choose_person(self, email: str) -> DemoPerson:
        return choose(email)

    def issue_code(self, request: AuthorizationRequest, person: DemoPerson) -> str:
        now = self.clock()
        payload = {
            "jti": self.tokens.issue("code").token, "cid": request.client_id, "ru": request.redirect_uri,
            "cc": request.code_challenge, "n": request.nonce, "e": person.email, "sc": request.scope,
            "at": int(now.timestamp()), "exp": int((now + CODE_LIFETIME).timestamp()),
        }  # fmt: skip
        return self._codes.seal(json.dumps(payload)).removeprefix(SecretBox.PREFIX)

    # -- /token --------------------------------------------------------------------------------------------
    def exchange(self, request: TokenRequest) -> dict[str, Any]:
        """RFC 6749 §4.1.3 with PKCE: the client authenticates, the code is genuine, unexpired, issued to
        this client for this redirect URI, the verifier matches, and the code was never used."""
        client_id = self._authenticate(request.client_id, request.client_secret)
        if request.grant_type != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Only the authorization_code grant is supported.")
        code = self._open(self._codes, request.code, "invalid_grant", "The authorization code is not valid.")
        now = self.clock()
        if code.get("cid") != client_id:
            raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
        if request.redirect_uri != code.get("ru"):
            raise OAuthError("invalid_grant", "The redirect_uri differs from the authorization request's.")
        if not request.code_verifier or not PKCE_VERIFIER.match(request.code_verifier):
            raise OAuthError("invalid_grant", "A code_verifier of 43 to 128 characters is required (PKCE).")
        if not hmac.compare_digest(_s256(request.code_verifier), str(code.get("cc"))):
            raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge (PKCE).")
        expires = datetime.fromtimestamp(int(code.get("exp", 0)), now.tzinfo)
        if now >= expires:
            raise OAuthError("invalid_grant", "The authorization code has expired.")
        self._redeem(str(code["jti"]), now, expires)
        person = person_for(str(code["e"]))
        expiry = int((now + TOKEN_LIFETIME).timestamp())
        sealed = self._access.seal(json.dumps({"e": person.email, "cid": client_id, "exp": expiry}))
        access_token = sealed.removeprefix(SecretBox.PREFIX)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "scope": code.get("sc") or "openid",
            "id_token": self._id_token(person, client_id, code, access_token, now),
        }

    def _authenticate(self, client_id: str | None, secret: str | None) -> str:
        if not client_id or not secret or len(client_id) > 200:
            raise OAuthError("invalid_client", "Client authentication is required.", 401)
        if not hmac.compare_digest(client_secret(self.secret_key, client_id).encode(), secret.encode()):
            raise OAuthError("invalid_client", "The client secret is wrong for this client.", 401)
        return client_id

    def _redeem(self, code_token: str, now: datetime, expires: datetime) -> None:
        code_id = hashlib.sha256(code_token.encode()).hexdigest()
        try:
            with self.db.transaction() as tx:
                DemoIdpStore(tx).redeem(code_id, now, expires)
        except Conflict:
            raise OAuthError("invalid_grant", "The authorization code was already used.") from None

    def _id_token(
        self, person: DemoPerson, client_id: str, code: dict[str, Any], access_token: str, now: datetime
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": subject_for(person.email), "aud": client_id,
            "iat": int(now.timestamp()), "exp": int((now + TOKEN_LIFETIME).timestamp()),
            "auth_time": int(code.get("at") or now.timestamp()), "at_hash": _at_hash(access_token),
            **_profile(person),
        }  # fmt: skip
        if code.get("n"):
            claims["nonce"] = code["n"]
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, claims, self.key.key)

    # -- /userinfo -----------------------------------------------------------------------------------------
    def userinfo(self, access_token: str | None) -> dict[str, Any]:
        token = self._open(self._access, access_token, "invalid_token", "The access token is not valid.", 401)
        if self.clock().timestamp() >= int(token.get("exp", 0)):
            raise OAuthError("invalid_token", "The access token has expired.", 401)
        person = person_for(str(token["e"]))
        return {"sub": subject_for(person.email), **_profile(person)}

    @staticmethod
    def _open(box: SecretBox, sealed: str | None, error: str, message: str, status: int = 400) -> dict:
        if not sealed or len(sealed) > 4096:
            raise OAuthError(error, message, status)
        try:
            data = json.loads(box.open(SecretBox.PREFIX + sealed.removeprefix(SecretBox.PREFIX)))
        except (OidcRefused, ValueError):
            raise OAuthError(error, message, status) from None
        if not isinstance(data, dict):
            raise OAuthError(error, message, status)
        return data


def _profile(person: DemoPerson) -> dict[str, Any]:
    return {
        "email": person.email, "email_verified": True, "name": person.name,
        "given_name": person.given_name, "family_name": person.family_name,
    }  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url."""
    return _b64(hashlib.sha256(access_token.encode()).digest()[:16])
