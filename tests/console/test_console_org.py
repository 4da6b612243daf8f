"""The overview, verified domains, projects (with the multi-project flag) and the audit log."""

from __future__ import annotations

from console_helpers import CLI, Org, field_error, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def test_overview_shows_mode_members_connections_scim_and_activity(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    app_services.credentials.create_scim_token(globex.id, CLI, "Okta")
    sign_in(client, app_services, globex.id, globex.admin.id)
    words = text_of(client.get("/admin/"))
    assert "Membership mode sso" in words
    assert "Members 1" in words
    assert "1 of 1 active Okta (SAML)" in words
    assert "SCIM provisioning on 1 usable token(s)" in words
    assert "scim_token.created" in words and "globex.test" in words


def test_claiming_a_domain_and_its_error_next_to_the_field(
    admin_client: FlaskClient, app_services: Services, acme: Org, globex: Org
) -> None:
    response = post(admin_client, "/admin/domains", {"domain": "acme.example"})
    assert response.status_code == 303
    claims = {d.domain: d.verified for d in app_services.orgs.get(acme.id).domains}
    assert claims == {"acme.example": False, "acme.test": True}  # a console claim is never verified
    page = text_of(admin_client.get("/admin/domains"))
    assert "_gateway-challenge.acme.example" in page and "gateway-domain-verification=" in page
    taken = post(admin_client, "/admin/domains", {"domain": "globex.test"})
    assert taken.status_code == 400 and "already verified by another" in (field_error(taken, "domain") or "")
    public = post(admin_client, "/admin/domains", {"domain": "gmail.com"})
    assert public.status_code == 400 and "public mail domain" in (field_error(public, "domain") or "")
    bad = post(admin_client, "/admin/domains", {"domain": "nodot"})
    assert "is not a domain name" in (field_error(bad, "domain") or "")


def test_checking_and_removing_a_domain_in_the_console(
    admin_client: FlaskClient,
    app_services: Services,
    acme: Org,
    dns,
    dns_address: str,  # type: ignore[no-untyped-def]
) -> None:
    from gateway.services.domains import DnsTxtLookup

    app_services.domains.txt_lookup = DnsTxtLookup(dns_address, timeout=3)
    post(admin_client, "/admin/domains", {"domain": "acme.example"})
    view = app_services.domains.find(acme.id, "acme.example")
    failed = post(admin_client, f"/admin/domains/{view.domain.id}/check", {})
    assert failed.status_code == 303
    assert "No TXT record" in text_of(admin_client.get("/admin/domains"))
    dns.set(view.record_name, view.record_value)
    post(admin_client, f"/admin/domains/{view.domain.id}/check", {})
    assert app_services.orgs.org_for_email_domain("acme.example").id == acme.id
    post(admin_client, f"/admin/domains/{view.domain.id}/remove", {})
    assert app_services.orgs.org_for_email_domain("acme.example") is None


def test_accounts_held_elsewhere_are_listed_on_the_domains_page(
    admin_client: FlaskClient, app_services: Services, acme: Org, globex: Org
) -> None:
    app_services.members.add_admin(globex.id, "ada@acme.example", CLI)
    post(admin_client, "/admin/domains", {"domain": "acme.example"})
    app_services.domains.verify_by_operator(acme.id, "acme.example", CLI)
    page = text_of(admin_client.get("/admin/domains"))
    assert "Accounts held by other organizations" in page and "ada@acme.example" in page
    assert "Globex" not in page.split("Accounts held by other organizations")[1]


def test_projects_need_the_flag_and_keep_resources_of_removed_members(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    assert 'name="name"' not in admin_client.get("/admin/projects").get_data(as_text=True)
    post(admin_client, "/admin/projects/multi-project", {"enabled": "on"}, token_from="/admin/projects")
    created = post(admin_client, "/admin/projects", {"name": "Research"}, token_from="/admin/projects")
    assert created.status_code == 303
    duplicate = post(admin_client, "/admin/projects", {"name": "Research"}, token_from="/admin/projects")
    assert "already exists" in (field_error(duplicate, "name") or "")

    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    app_services.projects.create_resource(
        acme.id, acme.project.id, m.ResourceKind.MODEL, "churn", bob.id, CLI
    )
    app_services.members.remove(acme.id, bob.id, CLI)
    words = text_of(admin_client.get(f"/admin/projects/{acme.project.id}"))
    assert "churn model bob@acme.test removed" in words
    assert "Research" in text_of(admin_client.get("/admin/projects"))


def test_a_member_sees_only_their_own_projects(
    client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.orgs.set_multi_project(acme.id, True, CLI)
    secret = app_services.projects.create(acme.id, "Secret", CLI)
    issued = app_services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    bob = app_services.invitations.accept(issued.token, "bob@acme.test", CLI)
    sign_in(client, app_services, acme.id, bob.id)
    words = text_of(client.get("/admin/projects"))
    assert "Default Project" in words and "Secret" not in words
    assert client.get(f"/admin/projects/{secret.id}").status_code == 403
    assert client.get(f"/admin/projects/{acme.project.id}").status_code == 200


def test_audit_log_filters(admin_client: FlaskClient, app_services: Services, acme: Org) -> None:
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    app_services.members.suspend(acme.id, bob.id, CLI)
    words = text_of(admin_client.get("/admin/audit?action=member.*"))
    assert "member.suspended" in words and "member.joined" in words and "org.created" not in words
    only = text_of(admin_client.get(f"/admin/audit?action=member.suspended&target_id={bob.id}"))
    assert "1 to 1 of 1 events" in only
    by_cli = text_of(admin_client.get("/admin/audit?actor_type=cli"))
    assert "org.created" in by_cli
    assert "No event matches" in text_of(admin_client.get("/admin/audit?actor_type=scim_token"))
    assert admin_client.get("/admin/audit?actor_type=nonsense&page=x").status_code == 200


def test_giving_and_taking_project_access(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    app_services.orgs.set_multi_project(acme.id, True, CLI)
    research = app_services.projects.create(acme.id, "Research", CLI)
    bob = app_services.members.add_admin(acme.id, "bob@acme.test", CLI)
    page = f"/admin/projects/{research.id}"
    missing = post(admin_client, f"{page}/members", {"email": "nobody@acme.test"}, token_from=page)
    assert "nobody@acme.test is not a member" in (field_error(missing, "email") or "")
    added = post(admin_client, f"{page}/members", {"email": "Bob@acme.test"}, token_from=page)
    assert added.status_code == 303
    assert app_services.projects.is_member(acme.id, research.id, bob.id)
    removed = post(admin_client, f"{page}/members/{bob.id}/remove", token_from=page)
    assert removed.status_code == 303
    assert not app_services.projects.is_member(acme.id, research.id, bob.id)
    default = post(
        admin_client, f"/admin/projects/{acme.project.id}/members/{bob.id}/remove", token_from=page
    )
    assert default.status_code == 409 and "Default Project" in text_of(default)
