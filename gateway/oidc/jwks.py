"""The providers' signing keys, cached per process.

Per process, not in the database: JWKS documents are public and cheap to fetch, so every gateway process
keeping its own copy costs the provider at most one fetch per process per ``lifetime``, and nothing needs to
be shared. The cache has a lifetime so that a key the provider retired stops verifying tokens once the
lifetime has passed, and an unknown ``kid`` triggers a refetch (the provider rotated its keys) at most once
per ``refetch_interval`` per JWKS URL, so tokens with made-up ``kid`` values cannot make the gateway hammer
the provider.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from gateway.services.base import Clock
from gateway.services.oidc_connections import FetchJson, OidcRefused

DEFAULT_LIFETIME = timedelta(minutes=15)
DEFAULT_REFETCH_INTERVAL = timedelta(minutes=1)

_KEY_TYPES: dict[str, tuple[str, type[Key]]] = {
    "RS": ("RSA", RSAKey),
    "PS": ("RSA", RSAKey),
    "ES": ("EC", ECKey),
    "Ed": ("OKP", OKPKey),
}


@dataclass
class _Entry:
    fetched_at: datetime
    keys: list[dict[str, Any]] = field(default_factory=list)

    def find(self, kid: str | None, alg: str) -> Key | None:
        kty, cls = _KEY_TYPES.get(alg[:2], ("", RSAKey))
        usable = [
            k for k in self.keys
            if k.get("kty") == kty and k.get("use", "sig") == "sig" and k.get("alg") in (None, alg)
        ]  # fmt: skip
        if kid is not None:
            usable = [k for k in usable if k.get("kid") == kid]
        elif len(usable) != 1:
            return None
        if not usable:
            return None
        try:
            return cls.import_key(usable[0])
        except (JoseError, ValueError, TypeError):
            return None


class JwksCache:
    def __init__(
        self,
        fetch: FetchJson,
        clock: Clock,
        *,
        lifetime: timedelta = DEFAULT_LIFETIME,
        refetch_interval: timedelta = DEFAULT_REFETCH_INTERVAL,
    ) -> None:
        self.fetch = fetch
        self.clock = clock
        self.lifetime = lifetime
        self.refetch_interval = refetch_interval
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key_for(self, jwks_uri: str, kid: str | None, alg: str) -> Key:
        """The provider's key for a token header, refetching the JWKS when it is stale or the ``kid`` is
        new (rate-limited); ``OidcRefused('unknown_key')`` when the provider does not publish it."""
        with self._lock:
            now = self.clock()
            entry = self._entries.get(jwks_uri)
            if entry is None or now - entry.fetched_at >= self.lifetime:
                entry = self._load(jwks_uri, now)
            key = entry.find(kid, alg)
            if key is None and now - entry.fetched_at >= self.refetch_interval:
                entry = self._load(jwks_uri, now)
                key = entry.find(kid, alg)
        if key is None:
            raise OidcRefused(
                "unknown_key",
                "The ID token is signed with a key the identity provider does not publish "
                f"(kid {kid!r}, alg {alg}).",
            )
        return key

    def _load(self, jwks_uri: str, now: datetime) -> _Entry:
        document = self.fetch(jwks_uri)
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise OidcRefused("provider_error", "The provider's JWKS document has no keys array.")
        entry = _Entry(fetched_at=now, keys=[k for k in keys if isinstance(k, dict)])
        self._entries[jwks_uri] = entry
        return entry
