"""The OpenID Connect adapter (Authlib): organizations' OIDC connections and the platform login provider.

``init_oidc(app)`` is called by ``create_app``; it builds the adapter's services over the app's database,
clock and token source, and registers the blueprint.
"""

from __future__ import annotations

from flask import Flask

from gateway.oidc.jwks import JwksCache
from gateway.oidc.platform import PlatformDirectory, load_platform_login
from gateway.oidc.runtime import OidcRuntime
from gateway.oidc.vendors import PresetVendorRules
from gateway.services import Services
from gateway.services.oidc_connections import (
    FetchJson,
    OidcConnectionService,
    OidcLoginService,
    SecretBox,
    checked_fetch,
    fetch_json,
    pinned_fetch,
)
from gateway.services.outbound import OutboundPolicy
from gateway.settings import Settings
from gateway.storage.oidc_tables import map_oidc_entities


def build_runtime(services: Services, settings: Settings, fetch: FetchJson = fetch_json) -> OidcRuntime:
    map_oidc_entities()
    box = SecretBox(settings.secret_key)
    deps = services.deps
    # Outside development every provider URL the gateway calls must be https on a public address.
    outbound = OutboundPolicy(allow_private=not settings.is_production)
    if fetch is fetch_json:
        fetch = pinned_fetch(outbound)
    connections = OidcConnectionService(
        *deps,
        box=box,
        vendors=PresetVendorRules(),
        redirect_uri=lambda slug: settings.url(f"/oidc/{slug}/callback"),
        fetch=fetch,
        outbound=outbound,
    )
    connections.domains = services.domains
    return OidcRuntime(
        connections=connections,
        logins=OidcLoginService(*deps, box=box),
        jwks=JwksCache(checked_fetch(fetch, outbound), services.clock),
        platform=PlatformDirectory(load_platform_login(), fetch, services.clock, outbound=outbound),
        clock=services.clock,
        outbound=outbound,
    )


def init_oidc(app: Flask) -> None:
    from gateway.oidc import test_sign_in  # noqa: F401  (registers the test sign-in route on ``bp``)
    from gateway.oidc.logout import logout_hook
    from gateway.oidc.routes import bp
    from gateway.web.account import LOGOUT_HOOKS

    services: Services = app.extensions["gateway.services"]
    runtime = build_runtime(services, app.extensions["gateway.settings"])
    app.extensions["gateway.oidc"] = runtime
    # The admin API and the CLI reach OIDC connections as ``services().oidc_connections``.
    services.oidc_connections = runtime.connections  # type: ignore[attr-defined]
    app.register_blueprint(bp)
    if logout_hook not in LOGOUT_HOOKS:
        LOGOUT_HOOKS.append(logout_hook)
