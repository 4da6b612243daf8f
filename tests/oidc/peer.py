"""The loopback OpenID Provider (npm's oidc-provider, see provider/server.mjs) and a scripted browser.

The provider's signing keys are made here, so tests can also forge tokens with them (or with keys the
provider never published) to check that the gateway refuses what it must.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
PUBLIC_URL = "http://gateway.test"


@functools.cache
def baseline_key() -> RSAKey:
    """The provider's signing key at the start of every test (made once: RSA key generation is slow)."""
    return new_key()


def new_key() -> RSAKey:
    return RSAKey.generate_key(
        2048, parameters={"kid": f"k-{uuid.uuid4().hex[:8]}", "use": "sig", "alg": "RS256"}
    )


class OpenIdProvider:
    """A running oidc-provider process on 127.0.0.1, reconfigured per test through its control API."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
            raise RuntimeError(
                "The test OpenID Provider needs node and its packages: cd tests/oidc/provider && npm ci"
            )
        self.process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=PROVIDER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("LISTENING "):
            self.process.kill()
            raise RuntimeError(f"The test OpenID Provider did not start: {line!r}")
        self.issuer = f"http://127.0.0.1:{int(line.split()[1])}"
        self.http = requests.Session()
        self.keys: list[RSAKey] = []
        self.clients: list[dict[str, Any]] = []

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.issuer + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self.keys = [baseline_key()]
        self.clients = []
        self._post(
            "/__test/config",
            {
                "keys": self._jwks(),
                "clients": [],
                "accounts": {},
                "pkceRequired": True,
                "conformIdTokenClaims": False,
            },
        )
        self._post("/__test/stats/reset", {})
        self._post("/__test/override", {})

    def _jwks(self) -> list[dict[str, Any]]:
        return [k.as_dict(private=True) for k in self.keys]

    def add_client(self, client_id: str, secret: str, redirect_uri: str, **metadata: Any) -> None:
        """``metadata``: more client metadata, e.g. ``post_logout_redirect_uris``, ``backchannel_logout_uri``."""
        self.clients.append(
            {
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "client_credentials"],
                "response_types": ["code"],
                "scope": "openid email profile groups vendor",
                **metadata,
            }
        )
        self._post("/__test/config", {"clients": self.clients})

    def change_client_secret(self, client_id: str, secret: str) -> None:
        """The secret rotated at the provider (the gateway still holds the old one)."""
        for client in self.clients:
            if client["client_id"] == client_id:
                client["client_secret"] = secret
        self._post("/__test/config", {"clients": self.clients})

    def set_keys(self, keys: list[RSAKey]) -> None:
        """Rotate: the provider signs with ``keys[0]`` and publishes exactly ``keys`` in its JWKS."""
        self.keys = list(keys)
        self._post("/__test/config", {"keys": self._jwks()})

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        self._post("/__test/config", {"accounts": accounts})

    def thin_id_tokens(self, thin: bool) -> None:
        """Scope-requested claims (email, profile, groups) only at the userinfo endpoint, as Okta does."""
        self._post("/__test/config", {"conformIdTokenClaims": thin})

    def require_pkce(self, required: bool) -> None:
        self._post("/__test/config", {"pkceRequired": required})

    def override_next_id_token(self, id_token: str) -> None:
        self._post("/__test/override", {"id_token": id_token})

    def stats(self) -> dict[str, int]:
        return self.http.get(self.issuer + "/__test/stats", timeout=10).json()

    def forge(
        self, claims: dict[str, Any], *, key: RSAKey | None = None, header: dict[str, Any] | None = None
    ) -> str:
        """An ID token signed with ``key`` (default: the provider's current key)."""
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)


@dataclass
class Browser:
    """A person's browser: the Flask test client for the gateway, a requests session for the provider."""

    gateway: FlaskClient
    provider: requests.Session = field(default_factory=requests.Session)
    authorize_url: str = ""
    public_url: str = PUBLIC_URL

    def start(self, path: str) -> str:
        """Open a gateway URL that redirects to the provider; returns the provider URL."""
        response = self.gateway.get(path)
        assert response.status_code == 303, response.get_data(as_text=True)
        self.authorize_url = response.headers["Location"]
        return self.authorize_url

    @property
    def auth_params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.authorize_url).query).items()}

    def authenticate(self, login: str, url: str | None = None) -> str:
        """Sign in at the provider as ``login``; returns the gateway callback URL it redirects to."""
        url = url or self.authorize_url
        for _ in range(10):
            if url.startswith(self.public_url + "/"):
                return url
            if urlsplit(url).path.startswith("/interaction/"):
                url = f"{url}{'&' if '?' in url else '?'}{urlencode({'login': login})}"
            response = self.provider.get(url, allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), f"{response.status_code} {response.text[:500]}"
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("the provider never redirected back to the gateway")

    def finish(self, callback_url: str):  # type: ignore[no-untyped-def]
        """Follow the provider's redirect back into the gateway."""
        parts = urlsplit(callback_url)
        return self.gateway.get(f"{parts.path}?{parts.query}")

    def sign_in(self, path: str, login: str):  # type: ignore[no-untyped-def]
        self.start(path)
        return self.finish(self.authenticate(login))
