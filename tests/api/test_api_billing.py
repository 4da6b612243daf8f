"""Billing through the admin API (rule 9): one balance per organization, members buy and use credits, the bill
rolls usage up by project and member."""

from __future__ import annotations

from collections.abc import Callable

from api_helpers import API, Tenant, add_member, bearer, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from tests.conftest import FakeClock


def test_a_member_buys_credits_for_the_organization(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    ada = add_member(app_services, tenant.org_id, "ada@acme.test")
    sign_in(client, app_services, ada)
    created = client.post(f"{API}/billing/purchases", json={"credits": 100, "description": "top-up"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["member_id"] == ada.id and created.get_json()["kind"] == "purchase"
    bill = client.get(f"{API}/billing").get_json()
    assert (bill["balance"], bill["purchased"], bill["used"]) == (100, 100, 0)


def test_usage_through_a_project_key_rolls_up_by_project_and_member(
    client: FlaskClient, app_services: Services, tenant: Tenant, clock: FakeClock
) -> None:
    ada = add_member(app_services, tenant.org_id, "ada@acme.test")
    app_services.billing.purchase(tenant.org_id, ada.id, 50, m.Actor.cli())
    clock.advance(minutes=1)
    key = app_services.credentials.create_project_key(
        tenant.org_id, tenant.default_project_id, ada.id, m.Actor.cli()
    )
    used = client.post(
        f"{API}/projects/{tenant.default_project_id}/usage", json={"credits": 20}, headers=bearer(key.token)
    )
    assert used.status_code == 201, used.get_json()
    bill = client.get(f"{API}/billing", headers=tenant.auth).get_json()
    assert bill["balance"] == 30
    assert bill["by_project"] == [
        {"project_id": tenant.default_project_id, "project_name": "Default Project", "credits": 20}
    ]
    assert bill["by_member"] == [{"member_id": ada.id, "email": "ada@acme.test", "credits": 20}]
    entries = client.get(f"{API}/billing/entries", headers=tenant.auth).get_json()
    assert [e["kind"] for e in entries["items"]] == ["usage", "purchase"] and entries["total"] == 2


def test_usage_beyond_the_balance_is_a_409_and_nothing_is_recorded(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    body = problem(
        client.post(
            f"{API}/projects/{tenant.default_project_id}/usage",
            json={"credits": 1, "member_id": tenant.admin.id},
            headers=tenant.auth,
        ),
        409,
        "insufficient-credits",
    )
    assert "has 0 credit" in body["detail"]
    assert app_services.billing.bill(tenant.org_id).used == 0


def test_an_admin_key_must_name_the_member(client: FlaskClient, tenant: Tenant) -> None:
    body = problem(
        client.post(f"{API}/billing/purchases", json={"credits": 5}, headers=tenant.auth),
        422,
        "validation-failed",
    )
    assert "member_id" in body["errors"]


def test_a_member_cannot_buy_as_someone_else(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    ada = add_member(app_services, tenant.org_id, "ada@acme.test")
    sign_in(client, app_services, ada)
    problem(
        client.post(f"{API}/billing/purchases", json={"credits": 5, "member_id": tenant.admin.id}),
        403,
        "forbidden",
    )
    assert app_services.billing.balance(tenant.org_id) == 0


def test_bad_amounts_are_refused_with_nothing_written(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    for credits in (0, -1, "10", 1.5, True, 10_000_001):
        response = client.post(
            f"{API}/billing/purchases",
            json={"credits": credits, "member_id": tenant.admin.id},
            headers=tenant.auth,
        )
        assert "credits" in problem(response, 422, "validation-failed")["errors"], credits
    assert app_services.billing.bill(tenant.org_id).purchased == 0


def test_a_period_and_its_validation(client: FlaskClient, tenant: Tenant) -> None:
    ok = client.get(
        f"{API}/billing?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z", headers=tenant.auth
    )
    assert ok.status_code == 200 and ok.get_json()["since"].startswith("2026-01-01")
    reversed_period = client.get(
        f"{API}/billing?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", headers=tenant.auth
    )
    assert "until" in problem(reversed_period, 422, "invalid-input")["errors"]
    bad = client.get(f"{API}/billing?since=yesterday", headers=tenant.auth)
    assert "since" in problem(bad, 400, "validation-failed")["errors"]


def test_another_organization_sees_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    app_services.billing.purchase(tenant.org_id, tenant.admin.id, 70, m.Actor.cli())
    other = make_tenant("Globex")
    assert client.get(f"{API}/billing", headers=other.auth).get_json()["balance"] == 0
    problem(
        client.post(
            f"{API}/projects/{tenant.default_project_id}/usage",
            json={"credits": 1, "member_id": other.admin.id},
            headers=other.auth,
        ),
        404,
        "not-found",
    )
