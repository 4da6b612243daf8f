"""Projects (rule 8): the multi-project flag, project members, resources and who may create them."""

from __future__ import annotations

from api_helpers import API, CLI, Tenant, add_member, bearer, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def _multi(app_services: Services, tenant: Tenant) -> m.Project:
    app_services.orgs.set_multi_project(tenant.org_id, True, CLI)
    return app_services.projects.create(tenant.org_id, "Research", CLI)


def test_create_project_needs_the_feature_flag(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    problem(
        client.post(f"{API}/projects", json={"name": "R&D"}, headers=tenant.auth), 403, "feature-disabled"
    )
    assert len(app_services.projects.list(tenant.org_id)) == 1
    client.patch(f"{API}/org", json={"multi_project": True}, headers=tenant.auth)
    created = client.post(f"{API}/projects", json={"name": "R&D"}, headers=tenant.auth)
    assert created.status_code == 201
    assert created.get_json()["is_default"] is False
    problem(client.post(f"{API}/projects", json={"name": "R&D"}, headers=tenant.auth), 409, "conflict")
    problem(client.post(f"{API}/projects", json={"name": ""}, headers=tenant.auth), 422, "validation-failed")
    listed = client.get(f"{API}/projects", headers=tenant.auth).get_json()
    assert [p["name"] for p in listed["items"]] == ["Default Project", "R&D"]


def test_project_detail_and_members(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    research = _multi(app_services, tenant)
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    url = f"{API}/projects/{research.id}"
    assert client.get(url, headers=tenant.auth).get_json()["member_count"] == 0
    problem(client.get(f"{url}/members/{bea.id}", headers=tenant.auth), 404, "not-found")
    added = client.put(f"{url}/members/{bea.id}", headers=tenant.auth)
    assert added.status_code == 200
    assert added.get_json()["member_id"] == bea.id
    assert client.put(f"{url}/members/{bea.id}", headers=tenant.auth).status_code == 200
    assert client.get(f"{url}/members/{bea.id}", headers=tenant.auth).get_json()["email"] == "bea@acme.test"
    listed = client.get(f"{url}/members", headers=tenant.auth).get_json()
    assert [i["id"] for i in listed["items"]] == [bea.id]
    assert client.delete(f"{url}/members/{bea.id}", headers=tenant.auth).status_code == 204
    problem(client.delete(f"{url}/members/{bea.id}", headers=tenant.auth), 404, "not-found")
    default = f"{API}/projects/{tenant.default_project_id}/members/{bea.id}"
    problem(client.delete(default, headers=tenant.auth), 409, "conflict")


def test_member_creates_resources_only_in_own_projects(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    research = _multi(app_services, tenant)
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, bea)
    own = f"{API}/projects/{tenant.default_project_id}/resources"
    created = client.post(own, json={"kind": "endpoint", "name": "chat"})
    assert created.status_code == 201
    assert created.get_json()["created_by"] == bea.id
    assert client.get(own).get_json()["total"] == 1
    other = f"{API}/projects/{research.id}/resources"
    problem(client.post(other, json={"kind": "model", "name": "x"}), 403, "forbidden")
    problem(client.get(other), 403, "forbidden")
    problem(
        client.post(own, json={"kind": "model", "name": "x", "created_by": tenant.admin.id}), 403, "forbidden"
    )
    problem(client.post(own, json={"kind": "robot", "name": "x"}), 422, "validation-failed")
    problem(client.put(f"{API}/projects/{research.id}/members/{bea.id}"), 403, "forbidden")
    assert app_services.projects.resources(tenant.org_id, tenant.default_project_id)[1] == 1


def test_admin_key_names_the_creator(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    url = f"{API}/projects/{tenant.default_project_id}/resources"
    body = problem(
        client.post(url, json={"kind": "file", "name": "f"}, headers=tenant.auth), 422, "validation-failed"
    )
    assert "created_by" in body["errors"]
    created = client.post(url, json={"kind": "file", "name": "f", "created_by": bea.id}, headers=tenant.auth)
    assert created.status_code == 201 and created.get_json()["created_by"] == bea.id
    mine = client.get(f"{url}?created_by={bea.id}", headers=tenant.auth).get_json()
    assert mine["total"] == 1
    problem(
        client.post(url, json={"kind": "file", "name": "g", "created_by": "nobody"}, headers=tenant.auth),
        404,
        "not-found",
    )


def test_project_key_stops_working_in_a_project_its_member_left(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    research = _multi(app_services, tenant)
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    app_services.projects.add_member(tenant.org_id, research.id, bea.id, CLI)
    key = app_services.credentials.create_project_key(tenant.org_id, research.id, bea.id, CLI)
    url = f"{API}/projects/{research.id}/resources"
    assert client.get(url, headers=bearer(key.token)).status_code == 200
    app_services.projects.remove_member(tenant.org_id, research.id, bea.id, CLI)
    problem(client.get(url, headers=bearer(key.token)), 401, "unauthenticated")
    problem(
        client.post(url, json={"kind": "file", "name": "f"}, headers=bearer(key.token)),
        401,
        "unauthenticated",
    )
    assert app_services.projects.resources(tenant.org_id, research.id)[1] == 0
