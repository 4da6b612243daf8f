"""The purchase policy and the monthly statements through the admin API."""

from __future__ import annotations

import csv
import io

from api_helpers import API, Tenant, add_member, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from tests.conftest import FakeClock

CLI = m.Actor.cli()


def test_admins_set_the_policy_and_members_are_refused_with_the_reason(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    policy = {"members_may_purchase": True, "monthly_limit_per_member": 100}
    assert client.put(f"{API}/billing/policy", json=policy, headers=tenant.auth).status_code == 200
    ada = add_member(app_services, tenant.org_id, "ada@acme.test")
    sign_in(client, app_services, ada)
    assert client.get(f"{API}/billing/policy").get_json()["remaining_this_month"] == 100
    assert client.post(f"{API}/billing/purchases", json={"credits": 60}).status_code == 201
    over = client.post(f"{API}/billing/purchases", json={"credits": 41})
    body = problem(over, 409, "purchase-limit-exceeded")
    assert body["remaining"] == 40 and "at most 40 more" in body["detail"]
    assert body["errors"] == {"credits": [body["detail"]]}
    problem(client.put(f"{API}/billing/policy", json=policy), 403, "forbidden")

    admins_only = {"members_may_purchase": False, "monthly_limit_per_member": None}
    assert client.put(f"{API}/billing/policy", json=admins_only, headers=tenant.auth).status_code == 200
    problem(client.post(f"{API}/billing/purchases", json={"credits": 1}), 403, "purchase-not-allowed")
    assert app_services.audit.list(tenant.org_id, action="billing.policy_changed")[1] == 2


def test_a_bad_policy_is_a_validation_problem(client: FlaskClient, tenant: Tenant) -> None:
    for body in (
        {"members_may_purchase": True},
        {"members_may_purchase": "x", "monthly_limit_per_member": -1},
    ):
        problem(client.put(f"{API}/billing/policy", json=body, headers=tenant.auth), 422, "validation-failed")


def test_the_monthly_statement_in_json_and_csv_adds_up(
    client: FlaskClient, app_services: Services, tenant: Tenant, clock: FakeClock
) -> None:
    ada = add_member(app_services, tenant.org_id, "ada@acme.test")
    app_services.billing.purchase(tenant.org_id, ada.id, 300, CLI)
    app_services.billing.spend(tenant.org_id, tenant.default_project_id, ada.id, 120, CLI)
    clock.advance(days=31)  # December
    app_services.billing.spend(tenant.org_id, tenant.default_project_id, ada.id, 30, CLI)

    periods = client.get(f"{API}/billing/statements", headers=tenant.auth).get_json()["items"]
    assert [p["period"] for p in periods] == ["2026-12", "2026-11"]
    nov = client.get(f"{API}/billing/statements/2026-11", headers=tenant.auth).get_json()
    assert (nov["opening_balance"], nov["purchased"], nov["used"], nov["closing_balance"]) == (
        0,
        300,
        120,
        180,
    )
    dec = client.get(f"{API}/billing/statements/2026-12", headers=tenant.auth).get_json()
    assert (dec["opening_balance"], dec["used"], dec["closing_balance"]) == (180, 30, 150)
    assert dec["usage_by_member"] == [{"member_id": ada.id, "email": "ada@acme.test", "credits": 30}]
    assert client.get(f"{API}/billing", headers=tenant.auth).get_json()["balance"] == 150

    exported = client.get(f"{API}/billing/statements/2026-11?format=csv", headers=tenant.auth)
    assert exported.mimetype == "text/csv"
    assert "statement-acme-2026-11.csv" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert {r[1]: int(r[2]) for r in rows if r and r[0] == "total"} == {
        "opening_balance": 0, "purchased": 300, "used": 120, "closing_balance": 180,
    }  # fmt: skip


def test_bad_periods_are_refused(client: FlaskClient, tenant: Tenant) -> None:
    problem(client.get(f"{API}/billing/statements/2026-13", headers=tenant.auth), 422, "invalid-input")
    problem(client.get(f"{API}/billing/statements/november", headers=tenant.auth), 422, "invalid-input")
    bad = client.get(f"{API}/billing/statements/2026-11?format=xlsx", headers=tenant.auth)
    assert bad.status_code == 400
