"""Who may see and do what in the console: sign-in redirect, Admin vs Member, CSRF, other organizations."""

from __future__ import annotations

import pytest
from console_helpers import CLI, Org, csrf, make_org, sign_in, text_of
from flask.testing import FlaskClient

from gateway.console.guard import csrf_token_for
from gateway.domain import model as m
from gateway.services import Services

PAGES = [
    "/admin/",
    "/admin/members",
    "/admin/mode",
    "/admin/mode/preview?to=sso",
    "/admin/connections",
    "/admin/projects",
]
ADMIN_PAGES = [
    "/admin/connections/new/saml?preset=okta",
    "/admin/connections/new/oidc?preset=generic",
    "/admin/invitations",
    "/admin/scim",
    "/admin/api-keys",
    "/admin/audit",
    "/admin/blocked-emails",
]


def test_without_a_session_every_page_redirects_to_login_and_back(client: FlaskClient, acme: Org) -> None:
    response = client.get("/admin/members?q=bob&page=2")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/admin/members%3Fq%3Dbob%26page%3D2"
    assert client.post("/admin/invitations", data={"emails": "x@acme.test"}).status_code == 303


def test_an_ended_session_no_longer_opens_the_console(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    token = sign_in(client, app_services, acme.id, acme.admin.id)
    assert client.get("/admin/").status_code == 200
    app_services.sessions.end(token)
    assert client.get("/admin/").headers["Location"].startswith("/login?next=")


def test_admin_sees_every_page(admin_client: FlaskClient) -> None:
    for path in PAGES + ADMIN_PAGES:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith("text/html")
        assert 'name="viewport"' in response.get_data(as_text=True)


def test_every_form_field_has_a_label(admin_client: FlaskClient, acme: Org) -> None:
    import re

    for path in [*PAGES, *ADMIN_PAGES, f"/admin/members/{acme.admin.id}"]:
        body = admin_client.get(path).get_data(as_text=True)
        labels = set(re.findall(r'<label for="([^"]+)"', body))
        for tag, attrs in re.findall(r"<(input|select|textarea)\b([^>]*)>", body):
            if 'type="hidden"' in attrs:
                continue
            field_id = re.search(r'id="([^"]+)"', attrs)
            assert field_id and field_id.group(1) in labels, (
                f"unlabelled {tag} on {path}: {attrs.strip()[:80]}"
            )


@pytest.fixture
def member_client(client: FlaskClient, app_services: Services, acme: Org) -> tuple[FlaskClient, m.Member]:
    issued = app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    bob = app_services.invitations.accept(issued.token, "bob@acme.test", CLI)
    session_token = sign_in(client, app_services, acme.id, bob.id)
    # A Member's pages carry no form, so compute the token their forms would carry.
    client.csrf_token = csrf_token_for(session_token, client.application.config["SECRET_KEY"])  # type: ignore[attr-defined]
    return client, bob


def test_a_member_reads_the_organization_without_any_form(
    member_client: tuple[FlaskClient, m.Member],
) -> None:
    client, _ = member_client
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "read-only" in text_of(response)
        assert 'method="post" action="/admin' not in response.get_data(as_text=True), path


def test_a_member_cannot_open_admin_pages(member_client: tuple[FlaskClient, m.Member]) -> None:
    client, _ = member_client
    for path in ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "for Admins" in text_of(response), path


def test_every_admin_action_is_refused_for_a_member(
    member_client: tuple[FlaskClient, m.Member], app_services: Services, acme: Org
) -> None:
    client, bob = member_client
    connection = app_services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    invitation = app_services.invitations.create(acme.id, "carol@acme.test", m.Role.MEMBER, CLI).invitation
    before = app_services.audit.list(acme.id)[1]
    token = client.csrf_token  # type: ignore[attr-defined]
    actions = [
        ("/admin/invitations", {"emails": "dave@acme.test"}),
        (f"/admin/invitations/{invitation.id}/revoke", {}),
        (f"/admin/invitations/{invitation.id}/resend", {}),
        (f"/admin/members/{acme.admin.id}/role", {"role": "member"}),
        (f"/admin/members/{acme.admin.id}/suspend", {}),
        (f"/admin/members/{acme.admin.id}/remove", {}),
        (f"/admin/members/{bob.id}/role", {"role": "admin"}),
        ("/admin/mode", {"to": "sso"}),
        (f"/admin/connections/{connection.id}/enabled", {"enabled": "0"}),
        ("/admin/connections/new/saml", {"name": "x", "entity_id": "e"}),
        ("/admin/scim/tokens", {"name": "t"}),
        ("/admin/api-keys", {"name": "k"}),
        ("/admin/projects/multi-project", {"enabled": "on"}),
        ("/admin/domains", {"domain": "bob.test"}),
    ]
    for path, data in actions:
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403, path
        assert "Only Admins" in text_of(response)
    assert app_services.audit.list(acme.id)[1] == before


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64}):
        response = admin_client.post("/admin/invitations", data={"emails": "eve@acme.test", **data})
        assert response.status_code == 400
        assert "did not come from this console" in text_of(response)
    assert app_services.invitations.list(acme.id)[1] == 0


def test_the_csrf_token_of_another_session_is_refused(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    sign_in(client, app_services, acme.id, acme.admin.id)
    old_token = csrf(client)
    sign_in(client, app_services, acme.id, acme.admin.id)
    assert csrf(client) != old_token
    response = client.post("/admin/invitations", data={"csrf_token": old_token, "emails": "eve@acme.test"})
    assert response.status_code == 400


def test_another_organizations_records_are_not_found(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    other = make_org(app_services, "Initech", m.MembershipMode.SSO, "initech.test", connection=True)
    connection = app_services.connections.list(other.id)[0]
    for path in (
        f"/admin/members/{other.admin.id}",
        f"/admin/connections/{connection.id}",
        f"/admin/projects/{other.project.id}",
    ):
        response = admin_client.get(path)
        assert response.status_code == 404, path
    response = admin_client.post(
        f"/admin/members/{other.admin.id}/suspend", data={"csrf_token": csrf(admin_client)}
    )
    assert response.status_code == 404
    assert app_services.members.get(other.id, other.admin.id).member.status is m.MemberStatus.ACTIVE


def test_console_pages_are_not_cached_framed_or_open_to_foreign_scripts(admin_client: FlaskClient) -> None:
    for path in ("/admin/", "/admin/members/nope"):
        headers = admin_client.get(path).headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
