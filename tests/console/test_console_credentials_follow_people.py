"""The console says, before an Admin is removed, that the admin API keys they created die with them; and the
audit log is an Admin page (a Member's session gets the access-denied page)."""

from __future__ import annotations

from console_helpers import CLI, Org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_the_remove_dialog_says_the_admin_keys_they_created_are_revoked(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    bob_actor = m.Actor(m.ActorType.ADMIN, bob.id, bob.email, member_id=bob.id)
    key = app_services.credentials.create_admin_key(acme.id, bob_actor, "bob's key")
    words = text_of(admin_client.get(f"/admin/members/{bob.id}/remove"))
    assert "every admin API key they created" in words
    response = post(admin_client, f"/admin/members/{bob.id}/remove")
    assert response.status_code == 303
    assert app_services.credentials.get_api_key(acme.id, key.key.id).revoked_at is not None
    assert (
        admin_client.get("/api/v1/org", headers={"Authorization": f"Bearer {key.token}"}).status_code == 401
    )


def test_a_member_gets_the_access_denied_page_for_the_audit_log(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bea = app_services.members.add_admin(acme.id, "bea@acme.test", CLI)
    app_services.members.change_role(acme.id, bea.id, m.Role.MEMBER, CLI)
    sign_in(client, app_services, acme.id, bea.id)
    response = client.get("/admin/audit")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "bea@acme.test" not in text_of(response).replace("Signed in as bea@acme.test", "")
    assert "admin@acme.test" not in text_of(response)
