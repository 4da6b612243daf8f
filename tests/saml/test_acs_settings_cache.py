"""The ACS keeps each connection's python3-saml settings between sign-ins, keyed by what the connection stores:
a second sign-in reuses them, and any edit of the connection (an IdP certificate removed, a flag turned off, an SP
key rotated) is in force from the very next response."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, add_saml_connection, saml_connections
from saml_idp import IDP_KEY, IDP_NEW_KEY, post_acs, reason

from gateway.domain import model as m
from gateway.services.saml_connections import cert_fingerprint
from saml.sp_settings import AcsSettingsCache
from tests.signout import sign_out


def _cache(app: Flask) -> AcsSettingsCache:
    return app.extensions["saml.acs_settings"]


def _sign_in(client: FlaskClient, setup: SamlSetup, **kwargs):  # type: ignore[no-untyped-def]
    sign_out(client)
    return setup.sign_in(client, "ada@acme.test", **kwargs)


def _unsolicited(client: FlaskClient, setup: SamlSetup):  # type: ignore[no-untyped-def]
    sign_out(client)
    return post_acs(client, setup.slug, setup.response("ada@acme.test"))


def test_a_second_sign_in_reuses_the_settings_of_the_first(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    assert _sign_in(client, okta).status_code == 303
    [entry] = list(_cache(app)._entries.values())
    built = entry._built[None]
    assert _sign_in(client, okta).status_code == 303
    assert list(_cache(app)._entries.values()) == [entry] and entry._built[None] is built


def test_a_removed_idp_certificate_is_refused_at_the_next_sign_in(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, keys=(IDP_KEY, IDP_NEW_KEY))
    assert _sign_in(client, setup, key=IDP_KEY).status_code == 303  # the settings trusting both are cached

    saml_connections(app).remove_idp_certificate(
        acme.id, setup.connection.id, cert_fingerprint(IDP_KEY.cert_b64), CLI
    )

    refused = _sign_in(client, setup, key=IDP_KEY)
    assert refused.status_code == 403 and reason(refused) == "saml_signature"
    assert _sign_in(client, setup, key=IDP_NEW_KEY).status_code == 303
    assert len(_cache(app)._entries) == 2  # one entry per stored configuration, the old one never used again


def test_turning_idp_initiated_sign_in_off_refuses_the_next_unsolicited_response(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, allow_idp_initiated=True)
    assert _unsolicited(client, setup).status_code == 303

    saml_connections(app).set_allow_idp_initiated(acme.id, setup.connection.id, False, CLI)

    refused = _unsolicited(client, setup)
    assert refused.status_code == 403 and reason(refused) == "saml_unsolicited"


def test_an_idp_certificate_added_to_a_cached_connection_is_trusted_at_once(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    assert _sign_in(client, okta, key=IDP_KEY).status_code == 303
    assert _sign_in(client, okta, key=IDP_NEW_KEY).status_code == 403

    saml_connections(app).add_idp_certificate(okta.org.id, okta.connection.id, IDP_NEW_KEY.cert_b64, CLI)

    assert _sign_in(client, okta, key=IDP_NEW_KEY).status_code == 303


def test_the_least_recently_used_entry_is_dropped_beyond_the_size(app: Flask, okta: SamlSetup) -> None:
    cache = AcsSettingsCache(size=2)
    with app.app_context():
        gateway_settings = app.extensions["gateway.settings"]
        entry = cache.get(gateway_settings, okta.connection)
        cache.put(("other",), entry)
        assert cache.get(gateway_settings, okta.connection) is entry  # a hit: now the most recently used
        cache.put(("third",), entry)
        assert list(cache._entries) == [cache.key(gateway_settings, okta.connection), ("third",)]
