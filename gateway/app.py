"""The application factory: the one place that wires settings, storage, services and every adapter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from gateway.observability import configure_logging, init_observability
from gateway.services import Clock, Services, TokenFactory, utcnow
from gateway.settings import Settings, load_settings
from gateway.storage.db import Database


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
    services = Services(db, clock=clock, tokens=tokens)
    services.sessions.idle_timeout = timedelta(minutes=settings.session_idle_minutes)
    services.sessions.absolute_timeout = timedelta(minutes=settings.session_absolute_minutes)
    app.extensions["gateway.settings"] = settings
    app.extensions["gateway.services"] = services

    init_observability(app)

    from gateway.api import init_api
    from gateway.outbox import init_outbox
    from gateway.web.account import bp as account_bp
    from gateway.web.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(account_bp)
    init_outbox(app)
    init_api(app)
    from scim import init_scim

    init_scim(app)
    from gateway.console import init_console

    init_console(app)
    from gateway.oidc import init_oidc
    from gateway.web.login import bp as login_bp

    app.register_blueprint(login_bp)
    init_oidc(app)
    from saml import init_saml

    init_saml(app)
    return app
