"""The organization and its membership mode: preview changes nothing, apply switches and is audited."""

from __future__ import annotations

from api_helpers import API, CLI, Tenant, problem
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_get_org_shows_mode_default_project_domains_and_member_count(
    client: FlaskClient, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("Initech", domain="initech.test")
    body = client.get(f"{API}/org", headers=tenant.auth).get_json()
    assert body["id"] == tenant.org_id
    assert body["mode"] == "invitation"
    assert body["multi_project"] is False
    assert body["default_project"]["id"] == tenant.default_project_id
    assert body["domains"] == [{"domain": "initech.test", "verified": True}]
    assert body["member_count"] == 1


def test_patch_org_toggles_multi_project(client: FlaskClient, tenant: Tenant) -> None:
    response = client.patch(f"{API}/org", json={"multi_project": True}, headers=tenant.auth)
    assert response.status_code == 200
    assert response.get_json()["multi_project"] is True
    problem(
        client.patch(f"{API}/org", json={"multi_project": "maybe"}, headers=tenant.auth),
        422,
        "validation-failed",
    )


def test_get_mode(client: FlaskClient, tenant: Tenant) -> None:
    assert client.get(f"{API}/mode", headers=tenant.auth).get_json() == {
        "org_id": tenant.org_id,
        "mode": "invitation",
    }


def test_preview_of_a_refused_switch_is_200_and_changes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    response = client.post(f"{API}/mode/preview", json={"mode": "sso"}, headers=tenant.auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is False
    assert "SSO connection" in body["refusal"]
    assert body["dry_run"] is True and body["applied"] is False
    assert app_services.orgs.get(tenant.org_id).org.mode is m.MembershipMode.INVITATION


def test_apply_refused_switch_is_409_with_the_reason(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    body = problem(
        client.post(f"{API}/mode", json={"mode": "sso"}, headers=tenant.auth), 409, "mode-switch-refused"
    )
    assert "SSO connection" in body["detail"]
    assert app_services.orgs.get(tenant.org_id).org.mode is m.MembershipMode.INVITATION


def test_preview_lists_effects_then_apply_switches(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    app_services.connections.add(tenant.org_id, m.ConnectionProtocol.SAML, "Okta", CLI)
    invited = app_services.invitations.create(tenant.org_id, "new@acme.test", m.Role.MEMBER, CLI).invitation
    preview = client.post(f"{API}/mode/preview", json={"mode": "sso"}, headers=tenant.auth).get_json()
    assert preview["allowed"] is True
    assert preview["invitations_to_revoke"] == [invited.id]
    assert len(preview["connections_to_restore"]) == 1
    assert any("pending invitation" in line for line in preview["effects"])
    assert app_services.invitations.get(tenant.org_id, invited.id).status is m.InvitationStatus.PENDING

    applied = client.post(f"{API}/mode", json={"mode": "sso"}, headers=tenant.auth)
    assert applied.status_code == 200
    assert applied.get_json()["applied"] is True
    assert app_services.orgs.get(tenant.org_id).org.mode is m.MembershipMode.SSO
    assert app_services.invitations.get(tenant.org_id, invited.id).status is m.InvitationStatus.REVOKED
    events = client.get(f"{API}/audit-events?action=mode.switched", headers=tenant.auth).get_json()
    assert events["total"] == 1
    assert events["items"][0]["details"]["to"] == "sso"


def test_mode_body_is_validated(client: FlaskClient, tenant: Tenant) -> None:
    problem(client.post(f"{API}/mode", json={"mode": "both"}, headers=tenant.auth), 422, "validation-failed")
    problem(client.post(f"{API}/mode/preview", json={}, headers=tenant.auth), 422, "validation-failed")
