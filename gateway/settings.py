"""Settings: defaults from ``gateway/config/defaults.toml``, overridden by ``GATEWAY_*`` environment variables,
then by explicit overrides (tests). Secrets are never hard-coded: a missing secret key is generated once
into the instance folder."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import limits
from limits.errors import ConfigurationError

from gateway.domain.domains import resolver_address

SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent / "config"
"""The defaults and IdP presets shipped inside the package (``gateway/config/``)."""
CONFIG_DIR = Path(os.environ.get("GATEWAY_CONFIG_DIR") or SHIPPED_CONFIG_DIR)
"""Where configuration files are read from: ``GATEWAY_CONFIG_DIR`` when set, else the shipped folder. A file
missing from that folder is read from the shipped one (see ``config_file``)."""


def config_file(name: str, directory: Path | None = None) -> Path:
    """``name`` (e.g. ``email.toml``, ``presets``) in the configured folder, or the shipped one if absent."""
    candidate = (directory or CONFIG_DIR) / name
    return candidate if candidate.exists() else SHIPPED_CONFIG_DIR / name


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str
    env: str
    instance_path: str
    secret_key: str
    max_request_bytes: int = 1048576
    log_level: str = "INFO"
    session_idle_minutes: int = 480
    session_absolute_minutes: int = 1440
    bind: str = "127.0.0.1:8000"
    workers: int = 0
    threads: int = 4
    db_pool_size: int = 0
    demo_idp: int = 0
    trusted_proxies: int = 0
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = "gateway"
    rate_limit_bearer: str = "20/minute"
    rate_limit_login: str = "120/minute"
    rate_limit_invitation: str = "10/minute"
    rate_limit_acs: str = "300/minute"
    metrics_token: str = ""
    metrics_allowed_addresses: str = ""

    @property
    def rate_limits(self) -> dict[str, str]:
        """The configured abuse limits by name; an empty rate turns that limit off."""
        rates = {
            "bearer": self.rate_limit_bearer,
            "login": self.rate_limit_login,
            "invitation": self.rate_limit_invitation,
            "acs": self.rate_limit_acs,
        }
        return {name: rate for name, rate in rates.items() if rate.strip()}

    @property
    def worker_count(self) -> int:
        """gunicorn workers: ``workers``, or one per CPU core (at least two) when it is 0."""
        return self.workers or max(2, os.cpu_count() or 1)

    @property
    def pool_size(self) -> int:
        """Database connections per process: ``db_pool_size``, or one per request thread plus one for work
        done after a response (recording a credential's last use) when it is 0."""
        return self.db_pool_size or self.threads + 1

    dns_resolver: str = ""
    domain_claim_days: int = 7
    saml_metadata_refresh_hours: int = 24
    scim_log_retention_days: int = 30
    scim_log_read_batch_ms: int = 1000

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def url(self, path: str) -> str:
        """An absolute URL under the configured public base URL."""
        return self.public_url.rstrip("/") + "/" + path.lstrip("/")


def metrics_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The comma-separated addresses or networks allowed to read ``/metrics`` without the token."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
    )


def _coerce(name: str, raw: Any, kind: type) -> Any:
    if kind is int:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    return str(raw)


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    with open(config_file("defaults.toml"), "rb") as fh:
        values: dict[str, Any] = tomllib.load(fh)
    kinds = {f.name: (int if f.type in ("int", int) else str) for f in fields(Settings)}
    for name in kinds:
        env_value = environ.get(f"GATEWAY_{name.upper()}")
        if env_value not in (None, ""):
            values[name] = env_value
    values.update(overrides or {})
    unknown = set(values) - set(kinds)
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    instance = Path(values.get("instance_path") or "instance").resolve()
    values["instance_path"] = str(instance)
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{instance / 'gateway.db'}"
    if not values.get("secret_key"):
        values["secret_key"] = _secret_key(instance)
    settings = Settings(**{k: _coerce(k, v, kinds[k]) for k, v in values.items()})
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.env not in ("development", "production"):
        raise SettingsError("GATEWAY_ENV must be 'development' or 'production'")
    url = urlsplit(settings.public_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise SettingsError("GATEWAY_PUBLIC_URL must be an absolute http(s) URL without query or fragment")
    if settings.is_production and settings.demo_idp:
        raise SettingsError("GATEWAY_DEMO_IDP is a development aid and cannot be enabled in production")
    if settings.trusted_proxies < 0:
        raise SettingsError("GATEWAY_TRUSTED_PROXIES must be 0 or a positive number of proxy hops")
    try:
        resolver_address(settings.dns_resolver)
    except ValueError:
        raise SettingsError(
            "GATEWAY_DNS_RESOLVER must be empty (the system's resolver) or an IP address with an optional "
            "port, such as 127.0.0.1:5353 or [::1]:53"
        ) from None
    if not 0 <= settings.scim_log_read_batch_ms <= 60_000:
        raise SettingsError("GATEWAY_SCIM_LOG_READ_BATCH_MS must be from 0 to 60000 milliseconds")
    if not 1 <= settings.domain_claim_days <= 90:
        raise SettingsError("GATEWAY_DOMAIN_CLAIM_DAYS must be a number of days from 1 to 90")
    if settings.is_production and url.scheme != "https":
        raise SettingsError("GATEWAY_PUBLIC_URL must use https in production")
    for name, rate in settings.rate_limits.items():
        try:
            limits.parse(rate)
        except (ValueError, ConfigurationError):
            raise SettingsError(
                f"GATEWAY_RATE_LIMIT_{name.upper()} must be a rate like '20/minute', got {rate!r}"
            ) from None
    try:
        metrics_networks(settings.metrics_allowed_addresses)
    except ValueError as error:
        raise SettingsError(f"GATEWAY_METRICS_ALLOWED_ADDRESSES: {error}") from None
    if settings.database_url.startswith("sqlite") and settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
