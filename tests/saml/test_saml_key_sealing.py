"""SP private keys at rest: sealed with a key derived from the gateway's secret key, so a copied database
alone reveals no private key; legacy plain keys still work and are sealed at the next write."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, add_saml_connection, saml_connections
from saml_idp import IDP_KEY, post_acs, reason, start_login

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.oidc_connections import SecretBox
from gateway.services.saml_connections import SP_KEY_PURPOSE, IdpDescriptor, SamlConfig
from gateway.storage.db import Database
from tests.signout import sign_out


def raw_config(db: Database, connection_id: str) -> str:
    """The stored ``sso_connections.config`` as text, read through SQL (what a copied database shows)."""
    with db.engine.connect() as conn:
        query = sa.text("SELECT CAST(config AS TEXT) FROM sso_connections WHERE id = :id")
        return conn.execute(query, {"id": connection_id}).scalar_one()


def stored_keys(db: Database, connection_id: str) -> list[str]:
    return [k["key"] for k in json.loads(raw_config(db, connection_id))["sp_keys"]]


def write_config(app: Flask, setup: SamlSetup, config: SamlConfig) -> None:
    with app.extensions["gateway.services"].db.transaction() as tx:
        tx.get(m.SsoConnection, setup.org.id, setup.connection.id).config = config.to_dict()


def encrypted_sign_in(client: FlaskClient, setup: SamlSetup, sp_cert: str):  # type: ignore[no-untyped-def]
    sign_out(client)
    request_id, relay = start_login(client, setup.slug)
    signed = setup.response("ada@acme.test", in_response_to=request_id)
    return post_acs(client, setup.slug, setup.idp.encrypt(signed, sp_cert), relay)


def test_the_stored_sp_private_key_is_sealed_and_sign_in_still_decrypts(
    app: Flask, client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, encrypt_assertions=True)
    text = raw_config(app_services.db, setup.connection.id)
    assert "PRIVATE KEY" not in text
    [sealed] = stored_keys(app_services.db, setup.connection.id)
    assert sealed.startswith(SecretBox.PREFIX)

    opened = saml_connections(app).config(setup.connection)
    assert opened.sp_keys[0].key.startswith("-----BEGIN PRIVATE KEY-----")
    answer = encrypted_sign_in(client, setup, opened.sp_keys[0].cert)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert client.get("/me").get_json()["email"] == "ada@acme.test"


def test_a_legacy_plain_key_is_read_and_sealed_at_the_next_rotation(
    app: Flask, client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, encrypt_assertions=True)
    legacy = saml_connections(app).config(setup.connection)
    write_config(app, setup, legacy)
    assert "PRIVATE KEY" in raw_config(app_services.db, setup.connection.id)
    [old] = legacy.sp_keys

    assert encrypted_sign_in(client, setup, old.cert).status_code == 303

    saml_connections(app).rotate_sp_key(acme.id, setup.connection.id, CLI)
    assert "PRIVATE KEY" not in raw_config(app_services.db, setup.connection.id)
    keys = stored_keys(app_services.db, setup.connection.id)
    assert len(keys) == 2 and all(k.startswith(SecretBox.PREFIX) for k in keys)
    rotated = saml_connections(app).config(saml_connections(app).by_slug(setup.slug))  # type: ignore[arg-type]
    assert rotated.sp_keys[1] == old
    assert encrypted_sign_in(client, setup, old.cert).status_code == 303


def test_a_key_sealed_under_another_secret_key_is_refused_with_a_clear_page(
    app: Flask, client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, encrypt_assertions=True)
    opened = saml_connections(app).config(setup.connection)
    request_id, relay = start_login(client, setup.slug)
    signed = setup.response("ada@acme.test", in_response_to=request_id)
    # The database now holds keys sealed by a gateway with another GATEWAY_SECRET_KEY (a copied database).
    other = SecretBox("another-gateway-secret-key", SP_KEY_PURPOSE)
    write_config(
        app, setup, replace(opened, sp_keys=tuple(replace(k, key=other.seal(k.key)) for k in opened.sp_keys))
    )

    answer = post_acs(client, setup.slug, setup.idp.encrypt(signed, opened.sp_keys[0].cert), relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_sp_key_unreadable"
    page = answer.get_data(as_text=True)
    assert "GATEWAY_SECRET_KEY" in page and "Traceback" not in page
    assert client.get("/me").status_code == 401

    login = client.get(f"/saml/{setup.slug}/login")
    assert login.status_code == 403 and reason(login) == "saml_sp_key_unreadable"
    refusals, _ = app_services.audit.list(acme.id, action="sign_in.refused")
    assert refusals and all(e.details["reason"] == "saml_sp_key_unreadable" for e in refusals)

    # The documented recovery: a new key pair sealed under this gateway's key, then the unreadable one retired.
    service = saml_connections(app)
    service.rotate_sp_key(acme.id, setup.connection.id, CLI)
    service.retire_sp_key(acme.id, setup.connection.id, opened.sp_keys[0].fingerprint, CLI)
    [fresh] = service.config(service.by_slug(setup.slug)).sp_keys  # type: ignore[arg-type]
    assert fresh.fingerprint != opened.sp_keys[0].fingerprint
    assert client.get(f"/saml/{setup.slug}/login").status_code == 302


def test_a_service_without_the_secret_key_refuses_to_store_a_private_key(
    db: Database, clock: object, acme: m.Organization
) -> None:
    keyless = Services(db, clock=clock)  # type: ignore[arg-type]
    idp = IdpDescriptor(
        entity_id="urn:acme:idp", sso_url="https://idp.acme.test/sso", certs=(IDP_KEY.cert_b64,)
    )
    with pytest.raises(ValueError, match="secret key"):
        keyless.saml_connections.create(acme.id, "Keyless", idp, CLI)
    assert keyless.connections.list(acme.id) == []
