"""Who may call the admin API: admin keys, project keys confined to their project, sessions by role."""

from __future__ import annotations

from api_helpers import API, CLI, Tenant, add_member, bearer, problem, sign_in
from flask import Flask
from flask.testing import FlaskClient

from gateway.api.auth import Access
from gateway.domain import model as m
from gateway.services import Services


def test_no_credentials_is_401_with_bearer_challenge(client: FlaskClient, tenant: Tenant) -> None:
    response = client.get(f"{API}/org")
    problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_key_wrong_scheme_and_scim_token_are_401(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    scim = app_services.credentials.create_scim_token(tenant.org_id, CLI).token
    for headers in (
        bearer("gwa_not-a-real-key"),
        {"Authorization": f"Basic {tenant.admin_key}"},
        {"Authorization": "Bearer "},
        bearer(scim),
    ):
        response = client.get(f"{API}/org", headers=headers)
        problem(response, 401, "unauthenticated")
        assert "WWW-Authenticate" in response.headers


def test_admin_key_acts_as_admin_of_its_org_and_is_audited_as_api_key(
    client: FlaskClient, tenant: Tenant
) -> None:
    response = client.get(f"{API}/org", headers=tenant.auth)
    assert response.status_code == 200
    assert response.get_json()["id"] == tenant.org_id
    created = client.post(f"{API}/scim-tokens", json={"name": "okta"}, headers=tenant.auth)
    assert created.status_code == 201
    events = client.get(f"{API}/audit-events?action=scim_token.created", headers=tenant.auth).get_json()
    assert events["items"][0]["actor_type"] == "api_key"
    assert events["items"][0]["request_id"] == created.headers["X-Request-Id"]


def test_revoked_admin_key_is_401(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    key = app_services.credentials.create_admin_key(tenant.org_id, CLI)
    assert client.delete(f"{API}/api-keys/{key.key.id}", headers=tenant.auth).status_code == 200
    problem(client.get(f"{API}/org", headers=bearer(key.token)), 401, "unauthenticated")


def test_admin_session_may_write(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    sign_in(client, app_services, tenant.admin)
    response = client.patch(f"{API}/org", json={"multi_project": True})
    assert response.status_code == 200
    events = app_services.audit.list(tenant.org_id, action="org.multi_project_changed")[0]
    assert events[0].actor_type is m.ActorType.ADMIN
    assert events[0].actor_id == tenant.admin.id


def test_member_session_reads_but_cannot_change(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    member = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, member)
    for path in ("/org", "/members", f"/members/{tenant.admin.id}", "/projects"):
        assert client.get(API + path).status_code == 200, path
    for path in (
        "/audit-events",
        "/events",
        "/invitations",
        "/api-keys",
        "/scim-tokens",
        "/connections",
        "/blocked-emails",
        "/mode",
    ):
        problem(client.get(API + path), 403, "forbidden")
    problem(client.patch(f"{API}/org", json={"multi_project": True}), 403, "forbidden")
    problem(client.post(f"{API}/invitations", json={"email": "x@acme.test"}), 403, "forbidden")
    problem(client.delete(f"{API}/members/{tenant.admin.id}"), 403, "forbidden")
    problem(client.post(f"{API}/mode", json={"mode": "sso"}), 403, "forbidden")
    assert app_services.orgs.get(tenant.org_id).org.multi_project is False
    assert app_services.members.get(tenant.org_id, tenant.admin.id).member.is_active


def test_project_key_is_confined_to_its_own_project_resources(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    member = add_member(app_services, tenant.org_id, "bea@acme.test")
    app_services.orgs.set_multi_project(tenant.org_id, True, CLI)
    other = app_services.projects.create(tenant.org_id, "Research", CLI)
    app_services.projects.add_member(tenant.org_id, other.id, member.id, CLI)
    key = app_services.credentials.create_project_key(
        tenant.org_id, tenant.default_project_id, member.id, CLI
    )
    auth = bearer(key.token)
    own = f"{API}/projects/{tenant.default_project_id}/resources"
    created = client.post(own, json={"kind": "model", "name": "m1"}, headers=auth)
    assert created.status_code == 201
    assert created.get_json()["created_by"] == member.id
    assert client.get(own, headers=auth).get_json()["total"] == 1
    problem(client.get(f"{API}/projects/{other.id}/resources", headers=auth), 403, "forbidden")
    problem(
        client.post(f"{API}/projects/{other.id}/resources", json={"kind": "file", "name": "f"}, headers=auth),
        403,
        "forbidden",
    )
    for path in ("/org", "/members", "/projects", f"/projects/{tenant.default_project_id}", "/audit-events"):
        problem(client.get(API + path, headers=auth), 403, "forbidden")
    problem(
        client.get(f"{API}/projects/{tenant.default_project_id}/api-keys", headers=auth), 403, "forbidden"
    )


def test_removed_member_cookie_is_401(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    member = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, member)
    app_services.members.remove(tenant.org_id, member.id, CLI)
    problem(client.get(f"{API}/org"), 401, "unauthenticated")


def test_bearer_header_wins_over_cookie(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    member = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, member)
    assert client.get(f"{API}/invitations", headers=tenant.auth).status_code == 200
    problem(client.get(f"{API}/invitations", headers=bearer("gwa_unknown")), 401, "unauthenticated")


def test_cookie_write_from_another_origin_is_refused(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    sign_in(client, app_services, tenant.admin)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.patch(f"{API}/org", json={"multi_project": True}, headers=headers)
        problem(response, 403, "forbidden")
    assert app_services.orgs.get(tenant.org_id).org.multi_project is False
    same = client.patch(f"{API}/org", json={"multi_project": True}, headers={"Origin": "http://gateway.test"})
    assert same.status_code == 200


def test_ids_of_another_org_answer_404(client: FlaskClient, app_services: Services, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("Acme"), make_tenant("Globex")
    b_member = add_member(app_services, b.org_id, "bob@globex.test")
    problem(client.get(f"{API}/members/{b_member.id}", headers=a.auth), 404, "not-found")
    problem(client.delete(f"{API}/members/{b_member.id}", headers=a.auth), 404, "not-found")
    problem(client.get(f"{API}/projects/{b.default_project_id}", headers=a.auth), 404, "not-found")
    problem(
        client.post(
            f"{API}/projects/{b.default_project_id}/resources",
            json={"kind": "model", "name": "x", "created_by": b_member.id},
            headers=a.auth,
        ),
        404,
        "not-found",
    )
    listed = client.get(f"{API}/members", headers=a.auth).get_json()
    assert b_member.id not in {item["id"] for item in listed["items"]}
    assert app_services.members.get(b.org_id, b_member.id).member.is_active


def test_every_route_declares_its_access_and_only_accept_and_the_contract_are_public(app: Flask) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(API)]
    levels = [(rule.rule, getattr(app.view_functions[rule.endpoint], "api_access", None)) for rule in rules]
    assert len(levels) > 40
    assert [path for path, level in levels if level is None] == []
    assert sorted(path for path, level in levels if level is Access.PUBLIC) == [
        f"{API}/docs",
        f"{API}/invitations/accept",
        f"{API}/openapi.json",
    ]
    project_key_paths = {path for path, level in levels if level is Access.PROJECT}
    assert project_key_paths == {
        f"{API}/projects/<project_id>/resources",
        f"{API}/projects/<project_id>/usage",
    }
