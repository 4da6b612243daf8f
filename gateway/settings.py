"""Settings: defaults from ``config/defaults.toml``, overridden by ``GATEWAY_*`` environment variables,
then by explicit overrides (tests). Secrets are never hard-coded: a missing secret key is generated once
into the instance folder."""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_DIR = Path(os.environ.get("GATEWAY_CONFIG_DIR", Path(__file__).resolve().parent.parent / "config"))


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
    workers: int = 2
    demo_idp: int = 0
    saml_metadata_refresh_hours: int = 24
    scim_log_retention_days: int = 30

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def url(self, path: str) -> str:
        """An absolute URL under the configured public base URL."""
        return self.public_url.rstrip("/") + "/" + path.lstrip("/")


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
    with open(CONFIG_DIR / "defaults.toml", "rb") as fh:
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
    if settings.is_production and url.scheme != "https":
        raise SettingsError("GATEWAY_PUBLIC_URL must use https in production")
    if settings.database_url.startswith("sqlite") and settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
