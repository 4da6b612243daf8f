"""The SAML 2.0 service-provider adapter (python3-saml): one SP per SSO connection.

``init_saml(app)`` registers the ``/saml/<connection>/...`` endpoints and the single-logout hook of ``/logout``.
"""

from __future__ import annotations

from flask import Flask


def init_saml(app: Flask) -> None:
    import saml.unavailable  # noqa: F401  (registers the 503 page on the blueprint)
    from gateway.storage.saml_tables import map_saml_entities
    from gateway.web.account import LOGOUT_HOOKS
    from saml import trial  # noqa: F401  (registers the test sign-in route on ``bp``)
    from saml.limits import limit_acs
    from saml.schema import install
    from saml.views import bp, logout_hook

    map_saml_entities()
    install()
    limit_acs(app)
    services = app.extensions["gateway.services"]
    app.extensions["gateway.saml_connections"] = services.saml_connections
    app.register_blueprint(bp)
    if logout_hook not in LOGOUT_HOOKS:
        LOGOUT_HOOKS.append(logout_hook)
