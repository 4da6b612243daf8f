"""The application factory: the one place that wires settings, storage, services and every adapter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from gateway.api import init_api
from gateway.console import init_console
from gateway.demo_idp import init_demo_idp
from gateway.observability import configure_logging, init_observability
from gateway.oidc import init_oidc
from gateway.outbox import init_outbox
from gateway.services import Clock, Services, TokenFactory, utcnow
from gateway.settings import Settings, load_settings
from gateway.storage.db import Database
from gateway.web.account import bp as account_bp
from gateway.web.break_glass import bp as break_glass_bp
from gateway.web.health import bp as health_bp
from gateway.web.login import bp as login_bp
from saml import init_saml
from scim import init_scim


def create_app(
    config: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock = utcnow,
    tokens: TokenFactory | None = None,
) -> Flask:
    settings = settings or load_settings(config)
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=settings.instance_path)
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        JSON_SORT_KEYS=False,
    )
    db = Database(settings.database_url)
    services = Services(
        db,
        clock=clock,
        tokens=tokens,
        allow_private_targets=not settings.is_production,
        secret_key=settings.secret_key,
    )
    services.sessions.idle_timeout = timedelta(minutes=settings.session_idle_minutes)
    services.sessions.absolute_timeout = timedelta(minutes=settings.session_absolute_minutes)
    app.extensions["gateway.settings"] = settings
    app.extensions["gateway.services"] = services

    init_observability(app)

    register_adapters(app)
    return app


def register_adapters(app: Flask) -> None:
    """Every protocol adapter, each mapping its own errors. The outbox listener goes first so that every
    service's changes reach it."""
    init_outbox(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(login_bp)
    app.register_blueprint(break_glass_bp)
    init_api(app)
    init_scim(app)
    init_saml(app)
    init_oidc(app)
    init_demo_idp(app)
    init_console(app)
