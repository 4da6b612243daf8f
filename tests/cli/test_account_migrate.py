"""Support's ``gateway account migrate EMAIL --to ORG [--dry-run]`` and ``gateway account refuse-migration``."""

from __future__ import annotations

import json

from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services

_load_commands()
CLI = m.Actor.cli()
EMAIL = "ada@mail.test"


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def setup(services: Services) -> tuple[str, str, m.Member]:
    source = services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI)
    services.members.add_admin(source.org.id, "boss@mail.test", CLI)
    ada = services.members.add_admin(source.org.id, EMAIL, CLI)
    ada = services.members.change_role(source.org.id, ada.id, m.Role.MEMBER, CLI)
    target = services.orgs.create("Globex", m.MembershipMode.SSO, CLI)
    services.connections.add(target.org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    return source.org.id, target.org.id, ada


def test_dry_run_prints_the_effects_and_changes_nothing(app: Flask, app_services: Services) -> None:
    source_id, target_id, ada = setup(app_services)
    result = run(app, "account", "migrate", EMAIL, "--to", "globex", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["allowed"] is True and data["source"] == "initech" and data["target"] == "globex"
    assert app_services.members.get(source_id, ada.id).member.is_active
    assert app_services.migrations.list(target_id) == []


def test_migrate_applies_and_audits_both_sides(app: Flask, app_services: Services) -> None:
    source_id, target_id, ada = setup(app_services)
    result = run(app, "account", "migrate", EMAIL, "--to", "globex", "--role", "admin")
    assert result.exit_code == 0, result.output
    assert "Migrated ada@mail.test into globex as admin" in result.output
    assert app_services.members.get(source_id, ada.id).member.status is m.MemberStatus.REMOVED
    joined, _ = app_services.members.list(target_id, query="ada@")
    assert joined[0].role is m.Role.ADMIN
    for org_id in (source_id, target_id):
        assert app_services.audit.list(org_id, action="account_migration.applied")[1] == 1


def test_refusals_exit_non_zero_with_the_reason(app: Flask, app_services: Services) -> None:
    setup(app_services)
    dry = run(app, "account", "migrate", "nobody@mail.test", "--to", "globex", "--dry-run")
    assert dry.exit_code == 1 and "nothing to migrate" in dry.output
    applied = run(app, "account", "migrate", "nobody@mail.test", "--to", "globex", "--json")
    assert applied.exit_code == 1 and json.loads(applied.output)["error"] == "no_account_elsewhere"
    unknown = run(app, "account", "migrate", EMAIL, "--to", "nowhere")
    assert unknown.exit_code == 1


def test_refuse_migration_closes_the_open_request(app: Flask, app_services: Services) -> None:
    _, target_id, _ = setup(app_services)
    admin = app_services.members.add_admin(target_id, "root@mail3.test", CLI)
    actor = m.Actor(m.ActorType.ADMIN, id=admin.id, label=admin.email)
    app_services.migrations.request(target_id, EMAIL, actor)
    result = run(
        app, "account", "refuse-migration", EMAIL, "--to", "globex", "--reason", "Duplicate", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["status"], data["refusal_code"], data["refusal_reason"]) == (
        "refused", "refused_by_support", "Duplicate",
    )  # fmt: skip
    again = run(app, "account", "refuse-migration", EMAIL, "--to", "globex")
    assert again.exit_code == 1
