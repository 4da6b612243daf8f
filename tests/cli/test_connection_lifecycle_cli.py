"""``gateway connection edit|disable|enable|delete|rotate-secret|drop-old-secret|refresh-metadata`` (issue 13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import IdpDescriptor, generate_sp_key

_load_commands()
CLI = m.Actor.cli()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def _org_with_saml(
    services: Services, mode: m.MembershipMode = m.MembershipMode.INVITATION
) -> m.SsoConnection:
    org = services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    cert = generate_sp_key("idp", datetime(2026, 1, 1, tzinfo=UTC), key_size=1024).cert
    idp = IdpDescriptor(entity_id="urn:acme:idp", sso_url="https://idp.acme.test/sso", certs=(cert,))
    connection = services.saml_connections.create(org.id, "Okta", idp, CLI, slug="acme-okta")
    if mode is m.MembershipMode.SSO:
        services.mode.apply(org.id, mode, CLI)
    return connection


def test_edit_then_delete_with_a_dry_run(app: Flask, app_services: Services) -> None:
    connection = _org_with_saml(app_services)
    edited = run(app, "connection", "edit", "acme", "acme-okta", "--name", "Okta prod", "--domain", "acme.test",
                 "--admin-group", "IT", "--attribute", "groups=memberOf", "--idp-initiated", "--json")  # fmt: skip
    assert edited.exit_code == 0, edited.output
    saved = app_services.connections.by_slug("acme-okta")
    assert saved is not None and saved.name == "Okta prod" and saved.config["domains"] == ["acme.test"]
    assert saved.config["attributes"]["groups"] == "memberOf" and saved.config["allow_idp_initiated"] is True
    bad = run(app, "connection", "edit", "acme", "acme-okta", "--attribute", "groups")
    assert bad.exit_code == 1 and "FIELD=NAME" in bad.output

    dry = run(app, "connection", "delete", "acme", "acme-okta", "--dry-run", "--json")
    assert json.loads(dry.output)["deleted"] is False and app_services.connections.by_slug("acme-okta")
    done = run(app, "connection", "delete", "acme", "acme-okta")
    assert done.exit_code == 0 and "keep their accounts" in done.output
    assert app_services.connections.by_slug("acme-okta") is None
    assert app_services.audit.list(connection.org_id, action="connection.deleted")[0]


def test_the_last_connection_in_sso_mode_needs_override(app: Flask, app_services: Services) -> None:
    _org_with_saml(app_services, m.MembershipMode.SSO)
    refused = run(app, "connection", "disable", "acme", "acme-okta")
    assert refused.exit_code == 1 and "nobody can sign in" in refused.output
    assert run(app, "connection", "delete", "acme", "acme-okta").exit_code == 1
    assert run(app, "connection", "disable", "acme", "acme-okta", "--override").exit_code == 0
    assert not app_services.connections.by_slug("acme-okta").enabled  # type: ignore[union-attr]
    assert run(app, "connection", "enable", "acme", "acme-okta").exit_code == 0
    assert run(app, "connection", "delete", "acme", "acme-okta", "--override").exit_code == 0


def test_rotate_and_drop_an_oidc_secret(app: Flask, app_services: Services) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    app_services.connections.add(org.id, m.ConnectionProtocol.OIDC, "Entra", CLI, slug="acme-entra",
                                 config={"client_secret": "fernet:v1:old"})  # fmt: skip
    rotated = run(app, "connection", "rotate-secret", "acme", "acme-entra", "--client-secret", "n3w-secret")
    assert rotated.exit_code == 0 and "n3w-secret" not in rotated.output
    stored = app_services.connections.by_slug("acme-entra")
    assert stored is not None and stored.config["previous_client_secret"] == "fernet:v1:old"
    assert run(app, "connection", "drop-old-secret", "acme", "acme-entra").exit_code == 0
    assert "previous_client_secret" not in app_services.connections.by_slug("acme-entra").config  # type: ignore[union-attr]
    saml = run(app, "connection", "refresh-metadata", "acme", "acme-entra")
    assert saml.exit_code == 1 and "Only SAML" in saml.output
    assert run(app, "connection", "edit", "acme", "nope", "--name", "x").exit_code == 1
