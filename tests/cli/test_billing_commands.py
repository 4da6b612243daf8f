"""``gateway billing statement`` and ``gateway billing policy``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services

_load_commands()
CLI = m.Actor.cli()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def org_with_ledger(services: Services) -> str:
    view = services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI)
    ada = services.members.add_admin(view.org.id, "ada@acme.test", CLI)
    services.billing.purchase(view.org.id, ada.id, 200, CLI)
    services.billing.spend(view.org.id, view.default_project.id, ada.id, 75, CLI, "training")
    return view.org.id


def test_statement_as_csv_and_json(app: Flask, app_services: Services, tmp_path: Path) -> None:
    org_with_ledger(app_services)
    printed = run(app, "billing", "statement", "acme", "--month", "2026-11")
    assert printed.exit_code == 0, printed.output
    rows = list(csv.reader(io.StringIO(printed.output)))
    assert rows[0] == ["statement", "Acme", "2026-11"]
    assert {r[1]: int(r[2]) for r in rows if r and r[0] == "total"}["closing_balance"] == 125
    target = tmp_path / "nov.json"
    written = run(
        app, "billing", "statement", "acme", "--month", "2026-11", "--format", "json", "--output", str(target)
    )
    assert written.exit_code == 0 and "Wrote the 2026-11 statement" in written.output
    data = json.loads(target.read_text())
    assert (data["purchased"], data["used"], data["closing_balance"]) == (200, 75, 125)
    assert run(app, "billing", "statement", "acme", "--month", "11/2026").exit_code == 1


def test_policy_shows_and_changes(app: Flask, app_services: Services) -> None:
    org_id = org_with_ledger(app_services)
    shown = run(app, "billing", "policy", "acme")
    assert "any member may buy credits, no monthly limit" in shown.output
    changed = run(app, "billing", "policy", "acme", "--admins-only", "--monthly-limit", "500", "--json")
    assert json.loads(changed.output) == {"members_may_purchase": False, "monthly_limit_per_member": 500}
    assert app_services.billing.purchase_policy(org_id).monthly_limit_per_member == 500
    cleared = run(app, "billing", "policy", "acme", "--no-limit", "--json")
    assert json.loads(cleared.output) == {"members_may_purchase": False, "monthly_limit_per_member": None}
