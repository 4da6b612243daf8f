"""Certificate rotation: several IdP signing certificates per connection, and SP key pairs for encrypted
assertions that rotate with overlap."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, add_saml_connection, saml_connections
from saml_idp import IDP_KEY, IDP_NEW_KEY, SigningKey, post_acs, reason, start_login

from gateway.domain import model as m
from gateway.services.saml_connections import SamlConfig, cert_fingerprint
from tests.signout import sign_out


def sign_in_signed_by(client: FlaskClient, setup: SamlSetup, key: SigningKey, email: str = "ada@acme.test"):  # type: ignore[no-untyped-def]
    sign_out(client)
    request_id, relay = start_login(client, setup.slug)
    return post_acs(client, setup.slug, setup.response(email, in_response_to=request_id, key=key), relay)


def test_connection_with_old_and_new_certificates_accepts_both_until_the_old_is_removed(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, keys=(IDP_KEY, IDP_NEW_KEY))
    assert sign_in_signed_by(client, setup, IDP_KEY).status_code == 303
    assert sign_in_signed_by(client, setup, IDP_NEW_KEY).status_code == 303

    old = cert_fingerprint(IDP_KEY.cert_b64)
    saml_connections(app).remove_idp_certificate(acme.id, setup.connection.id, old, CLI)

    refused = sign_in_signed_by(client, setup, IDP_KEY)
    assert refused.status_code == 403
    assert reason(refused) == "saml_signature"
    assert client.get("/me").status_code == 401
    assert sign_in_signed_by(client, setup, IDP_NEW_KEY).status_code == 303


def test_adding_the_new_certificate_to_a_live_connection_keeps_sign_in_working(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    assert sign_in_signed_by(client, okta, IDP_NEW_KEY).status_code == 403
    saml_connections(app).add_idp_certificate(okta.org.id, okta.connection.id, IDP_NEW_KEY.cert_b64, CLI)
    assert sign_in_signed_by(client, okta, IDP_KEY).status_code == 303
    assert sign_in_signed_by(client, okta, IDP_NEW_KEY).status_code == 303


def _sp_certs(app: Flask, setup: SamlSetup) -> list[str]:
    connection = saml_connections(app).by_slug(setup.slug)
    return [k.cert for k in SamlConfig.from_dict(connection.config).sp_keys]


def _encrypted_sign_in(client: FlaskClient, setup: SamlSetup, sp_cert: str):  # type: ignore[no-untyped-def]
    sign_out(client)
    request_id, relay = start_login(client, setup.slug)
    signed = setup.response("ada@acme.test", in_response_to=request_id)
    return post_acs(client, setup.slug, setup.idp.encrypt(signed, sp_cert), relay)


def test_encrypted_assertions_are_required_and_decrypted(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, encrypt_assertions=True)
    [sp_cert] = _sp_certs(app, setup)
    answer = _encrypted_sign_in(client, setup, sp_cert)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert client.get("/me").get_json()["email"] == "ada@acme.test"

    sign_out(client)
    request_id, relay = start_login(client, setup.slug)
    plain = post_acs(client, setup.slug, setup.response("ada@acme.test", in_response_to=request_id), relay)
    assert plain.status_code == 403
    assert reason(plain) == "saml_encrypted"


def test_sp_key_rotation_overlaps_then_retires_the_old_key(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, encrypt_assertions=True)
    [old_cert] = _sp_certs(app, setup)
    saml_connections(app).rotate_sp_key(acme.id, setup.connection.id, CLI)
    new_cert, still_old = _sp_certs(app, setup)
    assert still_old == old_cert

    metadata = client.get(f"/saml/{setup.slug}/metadata").get_data(as_text=True)
    assert old_cert in metadata and new_cert in metadata

    assert _encrypted_sign_in(client, setup, old_cert).status_code == 303
    assert _encrypted_sign_in(client, setup, new_cert).status_code == 303

    saml_connections(app).retire_sp_key(acme.id, setup.connection.id, cert_fingerprint(old_cert), CLI)
    refused = _encrypted_sign_in(client, setup, old_cert)
    assert refused.status_code == 403
    assert client.get("/me").status_code == 401
    assert _encrypted_sign_in(client, setup, new_cert).status_code == 303
