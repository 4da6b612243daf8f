"""Members in the console: search and paging, role, suspend/restore, and removal with its dialog."""

from __future__ import annotations

import re

from console_helpers import CLI, Org, field_error, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.members import Profile

SCIM = m.Actor(m.ActorType.SCIM_TOKEN, id="scim-1", label="Okta SCIM")


def _provision(services: Services, org: Org, count: int) -> None:
    for i in range(count):
        services.members.provision(
            org.id, f"user{i:03d}@globex.test", m.Role.MEMBER, SCIM, Profile(display_name=f"User {i:03d}")
        )


def _emails(client: FlaskClient, path: str) -> list[str]:
    return re.findall(
        r'<a href="/admin/members/[^"]+">([^<]+@[^<]+)</a>', client.get(path).get_data(as_text=True)
    )


def test_members_are_searched_and_paged(client: FlaskClient, app_services: Services, globex: Org) -> None:
    _provision(app_services, globex, 60)
    sign_in(client, app_services, globex.id, globex.admin.id)
    assert "1 to 50 of 61 members" in text_of(client.get("/admin/members"))
    assert len(_emails(client, "/admin/members")) == 50
    last = _emails(client, "/admin/members?page=2")
    assert len(last) == 11 and last[-1] == "user059@globex.test"
    assert "Page 2 of 2" in text_of(client.get("/admin/members?page=2"))
    assert _emails(client, "/admin/members?q=user03") == [f"user03{i}@globex.test" for i in range(10)]
    assert _emails(client, "/admin/members?q=USER 042") == ["user042@globex.test"]
    assert _emails(client, "/admin/members?role=admin") == ["admin@globex.test"]
    assert "No member matches" in text_of(client.get("/admin/members?q=nobody"))
    body = client.get("/admin/members?q=user").get_data(as_text=True)
    assert 'href="/admin/members?q=user&amp;page=2" rel="next"' in body


def test_role_change_and_the_last_admin_refusal_next_to_the_field(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    response = post(admin_client, f"/admin/members/{acme.admin.id}/role", {"role": "member"})
    assert response.status_code == 409
    assert "last Admin" in (field_error(response, "role") or "")
    assert 'name="override"' in response.get_data(as_text=True)
    assert app_services.members.get(acme.id, acme.admin.id).member.role is m.Role.ADMIN

    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    response = post(admin_client, f"/admin/members/{bob.id}/role", {"role": "member"})
    assert response.status_code == 303
    assert "bob@acme.test is now member" in text_of(admin_client.get(response.headers["Location"]))
    assert app_services.members.get(acme.id, bob.id).member.role is m.Role.MEMBER


def test_an_unknown_role_is_shown_next_to_the_role_field(admin_client: FlaskClient, acme: Org) -> None:
    response = post(admin_client, f"/admin/members/{acme.admin.id}/role", {"role": "owner"})
    assert "Unknown role" in (field_error(response, "role") or "")


def test_suspend_ends_sessions_and_restore_brings_the_member_back(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    _, bob_session = app_services.sessions.start(acme.id, bob.id, CLI)
    response = post(admin_client, f"/admin/members/{bob.id}/suspend")
    assert response.status_code == 303
    page = admin_client.get(response.headers["Location"])
    assert "suspended; 1 session(s) ended" in text_of(page)
    assert app_services.sessions.resolve(bob_session) is None
    assert "Restore" in text_of(page)
    post(admin_client, f"/admin/members/{bob.id}/restore")
    assert app_services.members.get(acme.id, bob.id).member.status is m.MemberStatus.ACTIVE


def test_member_page_lists_projects_and_resources(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    app_services.projects.create_resource(
        acme.id, acme.project.id, m.ResourceKind.MODEL, "fraud-model", bob.id, CLI
    )
    page = text_of(admin_client.get(f"/admin/members/{bob.id}"))
    assert "Default Project (default)" in page
    assert "fraud-model model Default Project" in page


def test_removal_dialog_in_sso_mode_warns_about_re_creation_and_offers_to_block(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    bob = app_services.members.sso_sign_in(globex.id, "bob@globex.test", SCIM).member
    app_services.projects.create_resource(
        globex.id, globex.project.id, m.ResourceKind.FILE, "notes.txt", bob.id, CLI
    )
    dialog = client.get(f"/admin/members/{bob.id}/remove")
    words = text_of(dialog)
    assert "identity provider may re-create them at their next sign-in" in words
    assert "Block bob@globex.test so single sign-on cannot re-create this member" in words
    assert "1 resource(s) they created stay" in words

    response = post(client, f"/admin/members/{bob.id}/remove", {"block": "on"})
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert "bob@globex.test was removed" in page and "The email is blocked" in page
    assert "notes.txt" in page  # the resource stays, still credited to bob
    assert "No project access" in page
    assert [b.email for b in app_services.members.blocked_emails(globex.id)] == ["bob@globex.test"]
    assert "bob@globex.test" in text_of(client.get("/admin/blocked-emails"))


def test_removal_in_invitation_mode_has_no_sso_warning(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    words = text_of(admin_client.get(f"/admin/members/{bob.id}/remove"))
    assert "re-create" not in words
    response = post(admin_client, f"/admin/members/{bob.id}/remove")
    assert response.status_code == 303
    assert app_services.members.get(acme.id, bob.id).member.status is m.MemberStatus.REMOVED
    assert app_services.members.blocked_emails(acme.id) == []


def test_removing_the_last_admin_needs_the_override(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    response = post(admin_client, f"/admin/members/{acme.admin.id}/remove")
    assert response.status_code == 409
    assert "last Admin" in (field_error(response, "remove") or "")
    assert 'id="f-override"' in response.get_data(as_text=True)
    assert app_services.members.get(acme.id, acme.admin.id).member.status is m.MemberStatus.ACTIVE


def test_unblocking_an_email(client: FlaskClient, app_services: Services, globex: Org) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    app_services.members.block_email(globex.id, "eve@globex.test", CLI)
    response = post(client, "/admin/blocked-emails/unblock", {"email": "eve@globex.test"})
    assert response.status_code == 303
    assert app_services.members.blocked_emails(globex.id) == []
