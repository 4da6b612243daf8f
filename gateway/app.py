"""The application factory: the one place that wires settings, storage, services and every adapter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import gateway.web.unavailable  # noqa: F401  (503 pages on the web blueprints)
from gateway import metrics
from gateway.api import init_api
from gateway.console import init_console
from gateway.demo_idp import init_demo_idp
from gateway.observability import configure_logging, init_observability
from gateway.oidc import init_oidc
from gateway.outbox import init_outbox
from gateway.resilience import install_retries
from gateway.services import Clock, Services, TokenFactory, utcnow
from gateway.services.domains import DnsTxtLookup
from gateway.services.rate_limits import AbuseLimits
from gateway.settings import Settings, load_settings
from gateway.storage.db import Database
from gateway.web.account import bp as account_bp
from gateway.web.break_glass import bp as break_glass_bp
from gateway.web.hardening import init_hardening
from gateway.web.health import bp as health_bp
from gateway.web.login import bp as login_bp
from gateway.web.signed_session import SignedSessionInterface
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
    app.session_interface = SignedSessionInterface()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        JSON_SORT_KEYS=False,
    )
    db = Database(settings.database_url, pool_size=settings.pool_size, max_overflow=5)
    services = Services(
        db,
        clock=clock,
        tokens=tokens,
        allow_private_targets=not settings.is_production,
        secret_key=settings.secret_key,
        txt_lookup=DnsTxtLookup(settings.dns_resolver),
        domain_claim_lifetime=timedelta(days=settings.domain_claim_days),
    )
    services.sessions.idle_timeout = timedelta(minutes=settings.session_idle_minutes)
    services.sessions.absolute_timeout = timedelta(minutes=settings.session_absolute_minutes)
    services.scim_log.read_batch_seconds = settings.scim_log_read_batch_ms / 1000
    app.extensions["gateway.settings"] = settings
    app.extensions["gateway.services"] = services
    app.extensions["gateway.abuse_limits"] = AbuseLimits.from_settings(
        settings.rate_limit_storage, settings.rate_limits, settings.rate_limit_prefix
    )

    if settings.trusted_proxies:
        # The client address (audit, rate limits, logs) is what the trusted hops say it is, and no more.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    metrics.watch_pool(db.engine)
    services.listeners.append(metrics.sign_in_listener)
    init_observability(app, [metrics.DatabaseCollector(metrics.outbox_depth(db.engine))])
    init_hardening(app, settings)

    register_adapters(app)
    install_retries(app)
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
