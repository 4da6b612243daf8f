"""``gateway connection add-saml`` through Flask's CLI runner (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI
from saml_idp import IDP_KEY, IDP_NEW_KEY, TestIdP, idp_metadata, post_acs, start_login

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import cert_fingerprint

_load_commands()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def test_add_saml_from_a_metadata_file_with_a_domain_then_sign_in(
    app: Flask, client: FlaskClient, app_services: Services, tmp_path: Path
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    metadata = tmp_path / "okta.xml"
    metadata.write_bytes(idp_metadata("https://idp.acme.test/okta"))

    result = run(app, "connection", "add-saml", "acme", "--metadata", str(metadata), "--preset", "okta",
                 "--domain", "acme.test", "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["slug"] == "acme-okta" and data["protocol"] == "saml" and data["preset"] == "okta"
    assert data["sp"]["acs_url"] == "http://gateway.test/saml/acme-okta/acs"
    assert data["idp"]["entity_id"] == "https://idp.acme.test/okta"
    assert data["attributes"]["first_name"] == "firstName"
    assert "Okta Admin Console" in data["setup_notes"]
    assert [d.domain for d in app_services.orgs.get(org.id).domains] == ["acme.test"]

    idp = TestIdP("https://idp.acme.test/okta", client.get("/saml/acme-okta/metadata").get_data(as_text=True))
    request_id, relay = start_login(client, "acme-okta")
    response = idp.response(
        acs=data["sp"]["acs_url"],
        audience=data["sp"]["entity_id"],
        name_id="ada@acme.test",
        in_response_to=request_id,
    )
    assert post_acs(client, "acme-okta", response, relay).status_code == 303
    assert client.get("/me").get_json()["email"] == "ada@acme.test"


def test_add_saml_by_hand_with_a_certificate_file(app: Flask, app_services: Services) -> None:
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI)
    result = run(app, "connection", "add-saml", "acme", "--entity-id", "urn:acme", "--sso-url",
                 "https://idp.acme.test/sso", "--cert", IDP_KEY.cert_file, "--name", "manual")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ACS URL: http://gateway.test/saml/acme-manual/acs" in result.output


def test_add_saml_errors_are_clear_and_write_nothing(
    app: Flask, app_services: Services, tmp_path: Path
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    bad = tmp_path / "bad.xml"
    bad.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    for args in (
        ["--metadata", str(bad)],
        ["--metadata", str(tmp_path / "missing.xml")],
        ["--entity-id", "urn:acme"],
        ["--metadata", "ftp://idp.example.test/metadata"],
    ):
        result = run(app, "connection", "add-saml", "acme", *args, "--json")
        assert result.exit_code == 1, args
        assert json.loads(result.output)["error"] == "invalid_input"
    assert app_services.connections.list(org.id) == []


def test_certificate_and_key_rotation_commands(app: Flask, app_services: Services, tmp_path: Path) -> None:
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI)
    metadata = tmp_path / "idp.xml"
    metadata.write_bytes(idp_metadata("https://idp.acme.test/okta"))
    assert run(app, "connection", "add-saml", "acme", "--metadata", str(metadata)).exit_code == 0

    added = json.loads(
        run(app, "connection", "saml-cert-add", "acme-generic", IDP_NEW_KEY.cert_file, "--json").output
    )
    assert added["idp_certificates"] == [
        cert_fingerprint(IDP_KEY.cert_b64),
        cert_fingerprint(IDP_NEW_KEY.cert_b64),
    ]
    removed = json.loads(
        run(
            app,
            "connection",
            "saml-cert-remove",
            "acme-generic",
            cert_fingerprint(IDP_KEY.cert_b64),
            "--json",
        ).output
    )
    assert removed["idp_certificates"] == [cert_fingerprint(IDP_NEW_KEY.cert_b64)]
    last = run(
        app,
        "connection",
        "saml-cert-remove",
        "acme-generic",
        cert_fingerprint(IDP_NEW_KEY.cert_b64),
        "--json",
    )
    assert last.exit_code == 1 and json.loads(last.output)["error"] == "invalid_input"

    rotated = json.loads(run(app, "connection", "saml-key-rotate", "acme-generic", "--json").output)
    new_key, old_key = (k["fingerprint"] for k in rotated["sp_keys"])
    retired = json.loads(run(app, "connection", "saml-key-retire", "acme-generic", old_key, "--json").output)
    assert [k["fingerprint"] for k in retired["sp_keys"]] == [new_key]

    unknown = run(app, "connection", "saml-key-rotate", "nope", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.output)["error"] == "not_found"


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"])
def test_in_production_add_saml_never_fetches_metadata_from_a_private_address(
    app: Flask, app_services: Services, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    requested: list[str] = []
    saml = app_services.saml_connections
    monkeypatch.setattr(saml, "allow_private_targets", False)
    monkeypatch.setattr(saml, "resolver", lambda name, port: [address])
    monkeypatch.setattr(saml, "get", lambda url, **kwargs: requested.append(url))
    result = run(app, "connection", "add-saml", "acme", "--metadata", "https://idp.example.com/md", "--json")
    assert result.exit_code == 1
    error = json.loads(result.output)
    assert error["error"] == "invalid_input" and address in result.output and "metadata URL" in result.output
    assert requested == []
    assert app_services.connections.list(org.id) == []
