"""A development-only identity provider under ``/demo-idp``, so that ``make run`` can sign people in without a
real one: an OpenID Provider (the demo organization's OIDC connection and the platform login provider point at
it) and a SAML 2.0 IdP (``/demo-idp/saml/...``, the SAML demo organization's connection). Registered only when ``GATEWAY_DEMO_IDP=1`` and ``GATEWAY_ENV=development`` (settings refuse the flag
in production; this checks again, so a hand-built production ``Settings`` cannot enable it either).
"""

from __future__ import annotations

from flask import Flask

from gateway.demo_idp.keys import SigningKey
from gateway.demo_idp.provider import DemoProvider
from gateway.demo_idp.saml_idp import DemoSamlIdp
from gateway.services import Services
from gateway.services.demo_saml import SamlSigningKey
from gateway.settings import Settings
from gateway.storage.demo_idp_tables import map_demo_idp_entities


def enabled(settings: Settings) -> bool:
    return bool(settings.demo_idp) and settings.env == "development"


def init_demo_idp(app: Flask) -> None:
    """Register the demo IdP on ``app`` when the settings allow it (once; calling again does nothing)."""
    from gateway.demo_idp import saml_routes  # noqa: F401  (its routes join the blueprint)
    from gateway.demo_idp.routes import bp

    settings: Settings = app.extensions["gateway.settings"]
    if not enabled(settings) or bp.name in app.blueprints:
        return
    services: Services = app.extensions["gateway.services"]
    map_demo_idp_entities()
    app.extensions["gateway.demo_idp"] = DemoProvider(
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        key=SigningKey.load_or_create(settings.instance_path),
        db=services.db,
        clock=services.clock,
        tokens=services.tokens,
    )
    app.extensions["gateway.demo_idp.saml"] = DemoSamlIdp(
        public_url=settings.public_url,
        key=SamlSigningKey.load_or_create(settings.instance_path, services.clock()),
        clock=services.clock,
    )
    app.register_blueprint(bp)
