"""The ``gateway`` CLI, through Flask's CLI runner against the test app (both backends)."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services

_load_commands()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def run_json(app: Flask, *args: str) -> dict:
    result = run(app, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_org_create_prints_the_org_with_its_default_project(app: Flask) -> None:
    data = run_json(app, "org", "create", "--name", "Acme", "--mode", "invitation", "--domain", "acme.com")
    assert data["slug"] == "acme"
    assert data["mode"] == "invitation"
    assert data["default_project"]["name"] == "Default Project"
    assert data["domains"] == [{"domain": "acme.com", "verified": True}]


def test_org_create_refuses_a_duplicate_slug_with_a_clear_error(app: Flask) -> None:
    run_json(app, "org", "create", "--name", "Acme")
    result = run(app, "org", "create", "--name", "ACME")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_mode_dry_run_reports_the_refusal_and_changes_nothing(app: Flask, app_services: Services) -> None:
    org = run_json(app, "org", "create", "--name", "Acme", "--mode", "invitation")
    plan = run_json(app, "mode", "set", "acme", "sso", "--dry-run")
    assert plan["allowed"] is False and plan["applied"] is False and plan["dry_run"] is True
    assert "no enabled SSO connection" in plan["refusal"]
    assert app_services.orgs.get(org["id"]).org.mode is m.MembershipMode.INVITATION
    assert [e.action for e in app_services.audit.list(org["id"])[0]] == ["org.created"]


def test_mode_set_applies_a_switch_and_exits_non_zero_when_refused(
    app: Flask, app_services: Services
) -> None:
    org = run_json(app, "org", "create", "--name", "Acme", "--mode", "invitation")
    refused = run(app, "mode", "set", "acme", "sso", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.output)["allowed"] is False
    app_services.connections.add(org["id"], m.ConnectionProtocol.SAML, "okta", m.Actor.cli())
    preview = run_json(app, "mode", "set", "acme", "sso", "--dry-run")
    assert preview["allowed"] is True and preview["connections_to_restore"]
    applied = run_json(app, "mode", "set", "acme", "sso")
    assert applied["applied"] is True
    assert app_services.orgs.get(org["id"]).org.mode is m.MembershipMode.SSO


def test_admin_add_then_api_key_create_gives_a_working_admin_key(app: Flask, app_services: Services) -> None:
    org = run_json(app, "org", "create", "--name", "Acme")
    member = run_json(app, "admin", "add", "acme", "Alice@Acme.com")
    assert member["email"] == "alice@acme.com" and member["role"] == "admin"
    key = run_json(app, "api-key", "create", "acme")
    principal = app_services.credentials.authenticate_api_key(key["token"])
    assert principal.org.id == org["id"] and principal.key.kind is m.ApiKeyKind.ADMIN
    assert key["token"] not in json.dumps(
        [k.token_hash for k in app_services.credentials.api_keys(org["id"])]
    )


def test_scim_token_create_shows_the_base_url_and_a_token_of_the_org(
    app: Flask, app_services: Services
) -> None:
    org = run_json(app, "org", "create", "--name", "Acme", "--mode", "sso")
    data = run_json(app, "scim-token", "create", "acme")
    assert data["base_url"] == "http://gateway.test/scim/v2"
    found_org, token = app_services.credentials.authenticate_scim_token(data["token"])
    assert found_org.id == org["id"] and token.is_usable


def test_org_list_shows_every_org(app: Flask) -> None:
    run_json(app, "org", "create", "--name", "Acme")
    run_json(app, "org", "create", "--name", "Globex", "--mode", "sso")
    assert [(o["slug"], o["mode"]) for o in run_json(app, "org", "list")] == [
        ("acme", "invitation"),
        ("globex", "sso"),
    ]


@pytest.mark.parametrize(
    "args",
    [["mode", "set", "nope", "sso"], ["admin", "add", "nope", "a@b.co"], ["api-key", "create", "nope"]],
)
def test_unknown_org_is_a_clear_error(app: Flask, args: list[str]) -> None:
    result = run(app, *args)
    assert result.exit_code == 1
    assert "No organization with slug or id 'nope'" in result.output
    as_json = run(app, *args, "--json")
    assert json.loads(as_json.output)["error"] == "not_found"


def test_invalid_email_is_refused(app: Flask) -> None:
    run_json(app, "org", "create", "--name", "Acme")
    result = run(app, "admin", "add", "acme", "not-an-email")
    assert result.exit_code == 1 and "not a valid email" in result.output


def test_demo_seed_is_idempotent_and_issues_a_working_key(app: Flask, app_services: Services) -> None:
    first = run_json(app, "demo", "seed")
    second = run_json(app, "demo", "seed")
    assert first["org"]["id"] == second["org"]["id"]
    assert app_services.members.list(first["org"]["id"], role=m.Role.ADMIN)[1] == 1
    assert app_services.credentials.authenticate_api_key(second["admin_api_key"]).org.id == first["org"]["id"]


def test_scim_group_role_mappings_can_be_set_listed_and_removed(app: Flask, app_services: Services) -> None:
    org = run_json(app, "org", "create", "--name", "Acme", "--mode", "sso")
    run_json(app, "scim-group-role", "set", "acme", "Platform Admins", "admin")
    assert run_json(app, "scim-group-role", "list", "acme") == [
        {"group_name": "Platform Admins", "role": "admin"}
    ]
    assert [e.action for e in app_services.audit.list(org["id"], action="group_role_mapping.*")[0]] == [
        "group_role_mapping.changed"
    ]
    run_json(app, "scim-group-role", "remove", "acme", "Platform Admins")
    assert run_json(app, "scim-group-role", "list", "acme") == []
    missing = run(app, "scim-group-role", "remove", "acme", "Platform Admins")
    assert missing.exit_code == 1 and "No mapping" in missing.output
