"""Credentials follow people: an admin API key records the Admin who created it and dies when that Admin is
removed or suspended; a restored Admin gets no revoked key back. The audit trail is for Admins only."""

from __future__ import annotations

from api_helpers import API, Tenant, add_member, bearer, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def _second_admin(client: FlaskClient, app_services: Services, tenant: Tenant) -> tuple[m.Member, str]:
    """Another Admin who signs in and creates an admin key through the API; returns them and the key."""
    alice = add_member(app_services, tenant.org_id, "alice@acme.test", m.Role.ADMIN)
    sign_in(client, app_services, alice)
    created = client.post(f"{API}/api-keys", json={"name": "alice's automation"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["created_by_member_id"] == alice.id
    client.delete_cookie("gw_session")
    return alice, created.get_json()["token"]


def test_a_removed_admins_api_key_stops_working(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    alice, key = _second_admin(client, app_services, tenant)
    assert client.get(f"{API}/org", headers=bearer(key)).status_code == 200
    removed = client.delete(f"{API}/members/{alice.id}", headers=tenant.auth)
    assert removed.status_code == 200, removed.get_data(as_text=True)
    assert removed.get_json()["revoked"]["api_keys"] == 1
    problem(client.get(f"{API}/org", headers=bearer(key)), 401, "unauthenticated")
    # The CLI's key (the tenant's) and the other Admin's access are untouched.
    assert client.get(f"{API}/org", headers=tenant.auth).status_code == 200


def test_a_key_made_with_an_admins_key_dies_with_that_admin(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    alice, key = _second_admin(client, app_services, tenant)
    child = client.post(f"{API}/api-keys", json={"name": "made by a key"}, headers=bearer(key)).get_json()
    assert child["created_by_member_id"] == alice.id
    assert client.delete(f"{API}/members/{alice.id}", headers=tenant.auth).status_code == 200
    problem(client.get(f"{API}/org", headers=bearer(child["token"])), 401, "unauthenticated")


def test_a_suspended_admins_key_dies_and_restoring_gives_none_back(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    alice, key = _second_admin(client, app_services, tenant)
    suspended = client.post(f"{API}/members/{alice.id}/suspend", headers=tenant.auth)
    assert suspended.status_code == 200, suspended.get_data(as_text=True)
    assert suspended.get_json()["revoked"]["api_keys"] == 1
    problem(client.get(f"{API}/org", headers=bearer(key)), 401, "unauthenticated")
    assert client.post(f"{API}/members/{alice.id}/restore", headers=tenant.auth).status_code == 200
    problem(client.get(f"{API}/org", headers=bearer(key)), 401, "unauthenticated")
    keys = client.get(f"{API}/api-keys", headers=tenant.auth).get_json()["items"]
    assert [k["active"] for k in keys if k["created_by_member_id"] == alice.id] == [False]


def test_a_members_session_cannot_read_the_audit_trail_or_the_event_feed(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, bea)
    body = problem(client.get(f"{API}/audit-events"), 403, "forbidden")
    assert "@" not in body["detail"]
    problem(client.get(f"{API}/events"), 403, "forbidden")
    # An Admin still reads it.
    assert client.get(f"{API}/audit-events", headers=tenant.auth).status_code == 200
