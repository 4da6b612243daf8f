"""Account migrations over the admin API: the refused invitation points the way, the target requests (dry run
first), the person confirms with their session, the source approves; every refusal is a problem with its reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import API, CLI, Tenant, add_member, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services

EMAIL = "ada@mail.test"


@pytest.fixture
def target(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant("Acme")


@pytest.fixture
def personal(app_services: Services) -> m.Member:
    """Ada's personal account: an organization of one."""
    view = app_services.orgs.create("Ada Lovelace", m.MembershipMode.INVITATION, CLI)
    return app_services.members.add_admin(view.org.id, EMAIL, CLI)


@pytest.fixture
def team(make_tenant: Callable[..., Tenant], app_services: Services) -> tuple[Tenant, m.Member]:
    source = make_tenant("Initech")
    return source, add_member(app_services, source.org_id, EMAIL)


def event_types(client: FlaskClient, tenant: Tenant) -> list[str]:
    items = client.get(f"{API}/events?limit=500", headers=tenant.auth).get_json()["events"]
    return [item["type"] for item in items]


def test_a_refused_invitation_leads_to_a_migration_the_person_confirms(
    client: FlaskClient, app_services: Services, target: Tenant, personal: m.Member
) -> None:
    refused = client.post(f"{API}/invitations", json={"email": EMAIL, "role": "member"}, headers=target.auth)
    body = problem(refused, 409, "account-in-other-organization")
    assert body["request_migration"] == f"POST {API}/account-migrations"

    dry = client.post(
        f"{API}/account-migrations", json={"email": EMAIL, "dry_run": True}, headers=target.auth
    )
    assert dry.status_code == 200
    preview = dry.get_json()
    assert preview["allowed"] is True and preview["needs_approval"] is False
    assert preview["source"] is None and len(preview["effects"]) >= 3
    assert not any("Ada Lovelace" in effect for effect in preview["effects"])
    assert client.get(f"{API}/account-migrations", headers=target.auth).get_json()["items"] == []

    created = client.post(
        f"{API}/account-migrations", json={"email": EMAIL, "role": "admin"}, headers=target.auth
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    migration = created.get_json()
    assert (migration["status"], migration["approval"], migration["role"]) == (
        "requested",
        "automatic",
        "admin",
    )

    person = FlaskClient(client.application)
    sign_in(person, app_services, personal)
    mine = person.get(f"{API}/account-migrations").get_json()["items"]
    assert [x["id"] for x in mine] == [migration["id"]]
    confirmed = person.post(f"{API}/account-migrations/{migration['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["status"] == "applied"

    assert person.get("/me").status_code == 401  # the old account's session ended with it
    members = client.get(f"{API}/members", headers=target.auth).get_json()["items"]
    assert {(x["email"], x["role"]) for x in members} >= {(EMAIL, "admin")}
    types = event_types(client, target)
    assert "account_migration.requested" in types and "account_migration.applied" in types
    assert "member.created" in types


def test_a_team_account_is_applied_when_its_source_admin_approves(
    client: FlaskClient, app_services: Services, target: Tenant, team: tuple[Tenant, m.Member]
) -> None:
    source, ada = team
    migration = client.post(
        f"{API}/account-migrations", json={"email": EMAIL}, headers=target.auth
    ).get_json()
    assert migration["approval"] is None and migration["source"] is None
    listed = client.get(f"{API}/account-migrations", headers=source.auth).get_json()["items"]
    assert [x["id"] for x in listed] == [migration["id"]] and listed[0]["source"]["name"] == "Initech"

    person = FlaskClient(client.application)
    sign_in(person, app_services, ada)
    assert (
        person.post(f"{API}/account-migrations/{migration['id']}/confirm").get_json()["status"] == "requested"
    )
    seen = client.get(f"{API}/account-migrations/{migration['id']}", headers=target.auth).get_json()
    assert seen["source"]["name"] == "Initech"  # the person confirmed: now the target may know
    approved = client.post(f"{API}/account-migrations/{migration['id']}/approve", headers=source.auth)
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "applied"
    assert approved.get_json()["approval"] == "admin"
    assert "member.removed" in event_types(client, source)
    assert "account_migration.applied" in event_types(client, source)


def test_refusals_carry_their_reason(
    client: FlaskClient, app_services: Services, target: Tenant, team: tuple[Tenant, m.Member]
) -> None:
    source, _ = team
    nobody = client.post(f"{API}/account-migrations", json={"email": "nobody@mail.test"}, headers=target.auth)
    assert "nothing to migrate" in problem(nobody, 409, "no-account-elsewhere")["detail"]
    bad = client.post(f"{API}/account-migrations", json={"email": "not an email"}, headers=target.auth)
    assert bad.status_code == 422
    migration = client.post(
        f"{API}/account-migrations", json={"email": EMAIL}, headers=target.auth
    ).get_json()
    again = client.post(f"{API}/account-migrations", json={"email": EMAIL}, headers=target.auth)
    problem(again, 409, "already-requested")

    by_key = client.post(f"{API}/account-migrations/{migration['id']}/confirm", headers=source.auth)
    problem(by_key, 403, "forbidden")
    other = FlaskClient(client.application)
    sign_in(other, app_services, add_member(app_services, source.org_id, "bob@mail.test"))
    problem(other.post(f"{API}/account-migrations/{migration['id']}/confirm"), 403, "not-the-account-holder")
    problem(other.get(f"{API}/account-migrations/{migration['id']}"), 403, "forbidden")
    problem(
        client.post(f"{API}/account-migrations/{migration['id']}/approve", headers=target.auth),
        403,
        "forbidden",
    )
    problem(client.post(f"{API}/account-migrations/nope/approve", headers=source.auth), 404, "not-found")


def test_members_of_the_target_cannot_request(
    client: FlaskClient, app_services: Services, target: Tenant, personal: m.Member
) -> None:
    sign_in(client, app_services, add_member(app_services, target.org_id, "eve@mail2.test"))
    problem(client.post(f"{API}/account-migrations", json={"email": EMAIL}), 403, "forbidden")


def test_a_third_organization_sees_nothing(
    client: FlaskClient, make_tenant: Callable[..., Tenant], target: Tenant, personal: m.Member
) -> None:
    migration = client.post(
        f"{API}/account-migrations", json={"email": EMAIL}, headers=target.auth
    ).get_json()
    third = make_tenant("Hooli")
    problem(client.get(f"{API}/account-migrations/{migration['id']}", headers=third.auth), 404, "not-found")
    assert client.get(f"{API}/account-migrations", headers=third.auth).get_json()["items"] == []


def test_the_person_refuses_and_both_sides_see_why(
    client: FlaskClient, app_services: Services, target: Tenant, team: tuple[Tenant, m.Member]
) -> None:
    source, ada = team
    migration = client.post(
        f"{API}/account-migrations", json={"email": EMAIL}, headers=target.auth
    ).get_json()
    person = FlaskClient(client.application)
    sign_in(person, app_services, ada)
    refused = person.post(f"{API}/account-migrations/{migration['id']}/refuse", json={"reason": "I stay"})
    assert refused.status_code == 200
    for tenant in (target, source):
        seen = client.get(f"{API}/account-migrations/{migration['id']}", headers=tenant.auth).get_json()
        assert (seen["status"], seen["refusal_code"], seen["refusal_reason"]) == (
            "refused", "refused_by_person", "I stay",
        )  # fmt: skip
    again = client.post(f"{API}/account-migrations/{migration['id']}/approve", headers=source.auth)
    problem(again, 409, "not-open")
