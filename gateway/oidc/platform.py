"""The platform login provider's settings (``gateway/config/platform_login.toml`` + ``GATEWAY_PLATFORM_*``) and its
discovery document, cached per process with a lifetime."""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gateway.services.base import Clock
from gateway.services.oidc_connections import FetchJson, OidcRefused, ProviderMetadata, discover
from gateway.services.outbound import OutboundPolicy
from gateway.settings import config_file

CONFIG_FILE = config_file("platform_login.toml")
METADATA_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class PlatformLogin:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.client_id and self.client_secret)


def load_platform_login(environ: Mapping[str, str] | None = None, path: Path = CONFIG_FILE) -> PlatformLogin:
    environ = os.environ if environ is None else environ
    values: dict = {}
    if path.exists():
        with open(path, "rb") as fh:
            values = tomllib.load(fh)

    def pick(key: str) -> str:
        env = environ.get(f"GATEWAY_PLATFORM_{key.upper()}")
        return str(env if env not in (None, "") else values.get(key, "") or "").strip()

    scopes_env = environ.get("GATEWAY_PLATFORM_SCOPES")
    scopes = scopes_env.replace(",", " ").split() if scopes_env else list(values.get("scopes") or [])
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return PlatformLogin(
        name=pick("name") or "the platform login provider",
        issuer=pick("issuer"),
        client_id=pick("client_id"),
        client_secret=str(environ.get("GATEWAY_PLATFORM_CLIENT_SECRET") or ""),
        scopes=tuple(scopes),
    )


class PlatformDirectory:
    """The platform provider's discovery document, refreshed after ``METADATA_LIFETIME``."""

    def __init__(
        self, login: PlatformLogin, fetch: FetchJson, clock: Clock, *, outbound: OutboundPolicy
    ) -> None:
        self.login = login
        self.fetch = fetch
        self.clock = clock
        self.outbound = outbound
        self._cached: tuple[datetime, ProviderMetadata] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> ProviderMetadata:
        if not self.login.configured:
            raise OidcRefused(
                "platform_unconfigured",
                "Sign-in with the platform login provider is not configured on this gateway. An operator must "
                "set GATEWAY_PLATFORM_CLIENT_ID and GATEWAY_PLATFORM_CLIENT_SECRET.",
            )
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= METADATA_LIFETIME:
                metadata = discover(
                    self.login.issuer,
                    self.fetch,
                    allow_private=self.outbound.allow_private,
                    resolver=self.outbound.resolver,
                )
                self._cached = (now, metadata)
            return self._cached[1]
