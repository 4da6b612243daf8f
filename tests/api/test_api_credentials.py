"""API keys, SCIM tokens, SSO connections and the audit trail over the API."""

from __future__ import annotations

from api_helpers import API, CLI, Tenant, add_member, bearer, problem, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_admin_keys_are_shown_once_and_revocable(client: FlaskClient, tenant: Tenant) -> None:
    created = client.post(f"{API}/api-keys", json={"name": "ci"}, headers=tenant.auth)
    assert created.status_code == 201
    key = created.get_json()
    assert key["token"].startswith("gwa_") and key["kind"] == "admin" and key["active"] is True
    listed = client.get(f"{API}/api-keys", headers=tenant.auth)
    assert listed.get_json()["total"] == 2
    assert key["token"] not in listed.get_data(as_text=True)
    assert "token_hash" not in listed.get_data(as_text=True)
    assert client.get(f"{API}/org", headers=bearer(key["token"])).status_code == 200
    revoked = client.delete(f"{API}/api-keys/{key['id']}", headers=tenant.auth)
    assert revoked.get_json()["active"] is False
    problem(client.delete(f"{API}/api-keys/{key['id']}", headers=tenant.auth), 409, "conflict")
    problem(client.get(f"{API}/org", headers=bearer(key["token"])), 401, "unauthenticated")
    problem(client.post(f"{API}/api-keys", json={"name": ""}, headers=tenant.auth), 422, "validation-failed")


def test_member_manages_own_project_keys(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    cid = add_member(app_services, tenant.org_id, "cid@acme.test")
    cid_key = app_services.credentials.create_project_key(
        tenant.org_id, tenant.default_project_id, cid.id, CLI
    )
    sign_in(client, app_services, bea)
    url = f"{API}/projects/{tenant.default_project_id}/api-keys"
    created = client.post(url, json={"name": "notebook"})
    assert created.status_code == 201
    key = created.get_json()
    assert key["token"].startswith("gwp_") and key["member_id"] == bea.id
    assert [k["id"] for k in client.get(url).get_json()["items"]] == [key["id"]]
    problem(client.post(url, json={"member_id": cid.id}), 403, "forbidden")
    problem(client.delete(f"{url}/{cid_key.key.id}"), 403, "forbidden")
    assert client.delete(f"{url}/{key['id']}").get_json()["active"] is False
    problem(client.post(f"{API}/api-keys", json={}), 403, "forbidden")


def test_admin_lists_and_issues_project_keys(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    url = f"{API}/projects/{tenant.default_project_id}/api-keys"
    body = problem(client.post(url, json={}, headers=tenant.auth), 422, "validation-failed")
    assert "member_id" in body["errors"]
    created = client.post(url, json={"member_id": bea.id}, headers=tenant.auth)
    assert created.status_code == 201 and created.get_json()["member_id"] == bea.id
    assert client.get(url, headers=tenant.auth).get_json()["total"] == 1
    problem(
        client.delete(f"{API}/api-keys/{created.get_json()['id']}", headers=tenant.auth), 404, "not-found"
    )
    problem(client.delete(f"{url}/nope", headers=tenant.auth), 404, "not-found")


def test_scim_tokens(client: FlaskClient, app_services: Services, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("Umbrella", m.MembershipMode.SSO)
    created = client.post(f"{API}/scim-tokens", json={"name": "okta"}, headers=tenant.auth)
    assert created.status_code == 201
    token = created.get_json()
    assert token["token"].startswith("scim_") and token["usable"] is True
    listed = client.get(f"{API}/scim-tokens", headers=tenant.auth)
    assert listed.get_json()["total"] == 1 and token["token"] not in listed.get_data(as_text=True)
    revoked = client.delete(f"{API}/scim-tokens/{token['id']}", headers=tenant.auth).get_json()
    assert revoked["usable"] is False and revoked["revoked_at"]
    problem(client.delete(f"{API}/scim-tokens/{token['id']}", headers=tenant.auth), 409, "conflict")


def test_connections_enable_and_disable(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    connection = app_services.connections.add(
        tenant.org_id, m.ConnectionProtocol.OIDC, "Google", CLI, config={"client_secret": "s3cret"}
    )
    listed = client.get(f"{API}/connections", headers=tenant.auth)
    assert [c["id"] for c in listed.get_json()["items"]] == [connection.id]
    assert "s3cret" not in listed.get_data(as_text=True)
    disabled = client.post(f"{API}/connections/{connection.id}/disable", headers=tenant.auth).get_json()
    assert disabled["enabled"] is False
    enabled = client.post(f"{API}/connections/{connection.id}/enable", headers=tenant.auth).get_json()
    assert enabled["enabled"] is True and enabled["suspended"] is True  # invitation mode keeps it suspended
    problem(client.post(f"{API}/connections/nope/enable", headers=tenant.auth), 404, "not-found")


def test_audit_filters_and_member_read_access(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    client.patch(f"{API}/members/{bea.id}", json={"role": "admin"}, headers=tenant.auth)
    client.post(f"{API}/api-keys", json={"name": "ci"}, headers=tenant.auth)

    def actions(query: str) -> list[str]:
        body = client.get(f"{API}/audit-events?{query}", headers=tenant.auth).get_json()
        return [e["action"] for e in body["items"]]

    assert actions("action=member.*") and all(a.startswith("member.") for a in actions("action=member.*"))
    assert actions("actor_type=api_key") == ["api_key.created", "member.role_changed"]
    assert actions(f"target_id={bea.id}&action=member.role_changed") == ["member.role_changed"] * 2
    problem(client.get(f"{API}/audit-events?actor_type=robot", headers=tenant.auth), 400, "validation-failed")
    sign_in(client, app_services, bea)
    assert client.get(f"{API}/audit-events?per_page=1").get_json()["per_page"] == 1
