"""Switching the membership mode from the console: preview, refusal, confirmation."""

from __future__ import annotations

from console_helpers import CLI, Org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_preview_refuses_sso_without_an_enabled_connection(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    preview = admin_client.get("/admin/mode/preview?to=sso")
    assert "Refused: The organization has no enabled SSO connection" in text_of(preview)
    assert "Confirm" not in text_of(preview)
    response = post(admin_client, "/admin/mode", {"to": "sso"})
    assert response.status_code == 409
    assert "Refused: The organization has no enabled SSO connection" in text_of(response)
    assert app_services.orgs.get(acme.id).org.mode is m.MembershipMode.INVITATION


def test_preview_then_apply_the_switch_to_sso(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    invitation = app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI).invitation
    preview = text_of(admin_client.get("/admin/mode/preview?to=sso"))
    assert "1 pending invitation(s) will be revoked" in preview
    assert "1 SSO connection(s) will be re-enabled" in preview
    assert "1 existing member(s) stay" in preview
    assert app_services.orgs.get(acme.id).org.mode is m.MembershipMode.INVITATION  # a preview changes nothing

    response = post(admin_client, "/admin/mode", {"to": "sso"}, token_from="/admin/mode/preview?to=sso")
    assert response.status_code == 303
    assert "now in sso mode" in text_of(admin_client.get(response.headers["Location"]))
    assert app_services.orgs.get(acme.id).org.mode is m.MembershipMode.SSO
    assert app_services.invitations.get(acme.id, invitation.id).status is m.InvitationStatus.REVOKED


def test_preview_of_the_switch_to_invitation_lists_what_is_disabled(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    app_services.credentials.create_scim_token(globex.id, CLI)
    sign_in(client, app_services, globex.id, globex.admin.id)
    page = text_of(client.get("/admin/mode"))
    assert "Current mode: sso" in page and "Preview the switch to invitation mode" in page
    preview = text_of(client.get("/admin/mode/preview?to=invitation"))
    assert "1 SCIM token(s) will be disabled (kept)" in preview
    assert "1 SSO connection(s) will be disabled (kept)" in preview


def test_an_unknown_mode_is_a_clear_error(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/mode/preview?to=both")
    assert response.status_code == 400
    assert "Unknown membership mode 'both'" in text_of(response)
