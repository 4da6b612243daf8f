"""Members: search and paging, roles and the last Admin, removal (rule 5), suspension, the block list."""

from __future__ import annotations

from api_helpers import API, CLI, Tenant, add_member, bearer, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_list_members_pages_with_links(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    for i in range(4):
        add_member(app_services, tenant.org_id, f"user{i}@acme.test")
    first = client.get(f"{API}/members?per_page=2", headers=tenant.auth).get_json()
    assert first["total"] == 5 and first["page"] == 1 and first["per_page"] == 2
    assert len(first["items"]) == 2
    assert first["links"]["prev"] is None
    assert first["links"]["next"].startswith("http://gateway.test/api/v1/members?")
    second = client.get(first["links"]["next"].removeprefix("http://gateway.test"), headers=tenant.auth)
    second_body = second.get_json()
    assert second_body["page"] == 2
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second_body["items"]})
    last = client.get(f"{API}/members?per_page=2&page=3", headers=tenant.auth).get_json()
    assert len(last["items"]) == 1 and last["links"]["next"] is None
    beyond = client.get(f"{API}/members?per_page=2&page=9", headers=tenant.auth).get_json()
    assert beyond["items"] == [] and beyond["links"]["prev"].endswith("page=3&per_page=2")


def test_search_and_filters(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    add_member(app_services, tenant.org_id, "carol.smith@acme.test")
    dave = add_member(app_services, tenant.org_id, "dave@acme.test")
    app_services.members.suspend(tenant.org_id, dave.id, CLI)

    def emails(query: str) -> list[str]:
        body = client.get(f"{API}/members?{query}", headers=tenant.auth).get_json()
        return [item["email"] for item in body["items"]]

    assert emails("q=SMITH") == ["carol.smith@acme.test"]
    assert emails("q=50%25") == []
    assert emails("role=admin") == ["admin@acme.test"]
    assert emails("status=suspended") == ["dave@acme.test"]
    assert sorted(emails("")) == ["admin@acme.test", "carol.smith@acme.test", "dave@acme.test"]


def test_get_member_shows_projects_and_resources(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    body = client.get(f"{API}/members/{tenant.admin.id}", headers=tenant.auth).get_json()
    assert body["email"] == "admin@acme.test"
    assert body["role"] == "admin"
    assert [p["id"] for p in body["projects"]] == [tenant.default_project_id]
    assert body["resources_created"] == []
    assert "token_hash" not in str(body)
    problem(client.get(f"{API}/members/no-such-id", headers=tenant.auth), 404, "not-found")


def test_last_admin_cannot_be_demoted_without_override(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    url = f"{API}/members/{tenant.admin.id}"
    body = problem(client.patch(url, json={"role": "member"}, headers=tenant.auth), 409, "last-admin")
    assert body["member_id"] == tenant.admin.id
    assert app_services.members.get(tenant.org_id, tenant.admin.id).member.role is m.Role.ADMIN
    response = client.patch(url, json={"role": "member", "override_last_admin": True}, headers=tenant.auth)
    assert response.status_code == 200
    assert response.get_json()["role"] == "member"


def test_promote_member(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    response = client.patch(f"{API}/members/{bea.id}", json={"role": "admin"}, headers=tenant.auth)
    assert response.get_json()["role"] == "admin"
    problem(
        client.patch(
            f"{API}/members/{bea.id}", json={"role": "admin", "email": "x@y.z"}, headers=tenant.auth
        ),
        422,
        "validation-failed",
    )


def test_last_admin_removal_needs_override(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    url = f"{API}/members/{tenant.admin.id}"
    problem(client.delete(url, headers=tenant.auth), 409, "last-admin")
    assert client.delete(f"{url}?override_last_admin=true", headers=tenant.auth).status_code == 200


def test_removal_revokes_sessions_and_keys_but_keeps_resources(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    resource = app_services.projects.create_resource(
        tenant.org_id, tenant.default_project_id, m.ResourceKind.MODEL, "bea-model", bea.id, CLI
    )
    key = app_services.credentials.create_project_key(tenant.org_id, tenant.default_project_id, bea.id, CLI)
    bea_client = client.application.test_client()
    sign_in(bea_client, app_services, bea)
    assert bea_client.get("/me").status_code == 200

    response = client.delete(f"{API}/members/{bea.id}", headers=tenant.auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["member"]["status"] == "removed"
    assert body["revoked"] == {"project_access": 1, "sessions": 1, "api_keys": 1}
    assert body["resources_kept"] == 1
    assert body["note"] is None  # invitation mode: nothing re-creates the member

    assert bea_client.get("/me").status_code == 401
    problem(bea_client.get(f"{API}/org"), 401, "unauthenticated")
    resources_url = f"{API}/projects/{tenant.default_project_id}/resources"
    problem(client.get(resources_url, headers=bearer(key.token)), 401, "unauthenticated")
    listed = client.get(resources_url, headers=tenant.auth).get_json()
    assert [(r["id"], r["created_by"]) for r in listed["items"]] == [(resource.id, bea.id)]
    problem(client.delete(f"{API}/members/{bea.id}", headers=tenant.auth), 409, "member-inactive")


def test_removal_in_sso_mode_warns_about_re_creation_unless_blocked(
    client: FlaskClient, app_services: Services, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("Umbrella", m.MembershipMode.SSO)
    bea = add_member(app_services, tenant.org_id, "bea@umbrella.test")
    cid = add_member(app_services, tenant.org_id, "cid@umbrella.test")
    warned = client.delete(f"{API}/members/{bea.id}", headers=tenant.auth).get_json()
    assert "re-created" in warned["note"] and warned["blocked"] is False
    blocked = client.delete(f"{API}/members/{cid.id}?block=true", headers=tenant.auth).get_json()
    assert blocked["blocked"] is True and "blocked" in blocked["note"]
    listed = client.get(f"{API}/blocked-emails", headers=tenant.auth).get_json()
    assert [item["email"] for item in listed["items"]] == ["cid@umbrella.test"]


def test_suspend_and_restore(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    bea_client = client.application.test_client()
    sign_in(bea_client, app_services, bea)
    suspended = client.post(f"{API}/members/{bea.id}/suspend", headers=tenant.auth)
    assert suspended.status_code == 200
    assert suspended.get_json()["member"]["status"] == "suspended"
    assert suspended.get_json()["revoked"] == {"sessions": 1, "api_keys": 0}
    problem(bea_client.get(f"{API}/org"), 401, "unauthenticated")
    restored = client.post(f"{API}/members/{bea.id}/restore", headers=tenant.auth)
    assert restored.get_json()["status"] == "active"
    problem(client.post(f"{API}/members/{tenant.admin.id}/suspend", headers=tenant.auth), 409, "last-admin")


def test_block_list(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    created = client.post(f"{API}/blocked-emails", json={"email": "Eve@Evil.test"}, headers=tenant.auth)
    assert created.status_code == 201
    assert created.get_json()["email"] == "eve@evil.test"
    problem(
        client.post(f"{API}/blocked-emails", json={"email": "nope"}, headers=tenant.auth),
        422,
        "validation-failed",
    )
    assert client.get(f"{API}/blocked-emails", headers=tenant.auth).get_json()["total"] == 1
    assert client.delete(f"{API}/blocked-emails/eve@evil.test", headers=tenant.auth).status_code == 204
    problem(client.delete(f"{API}/blocked-emails/eve@evil.test", headers=tenant.auth), 404, "not-found")
    assert app_services.members.blocked_emails(tenant.org_id) == []
