"""The admin console in headless Chromium: the flows an Admin clicks through, at desktop and phone widths,
with no JavaScript error on any page. One browser for the module; one fresh context (and organization) per test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from browser_helpers import (
    CLI,
    DESKTOP,
    PHONE,
    LiveGateway,
    Visit,
    idp_metadata_file,
    start_gateway,
    visit,
)
from playwright.sync_api import Browser, Route, expect

from gateway.domain import model as m

pytestmark = pytest.mark.skipif(
    os.environ.get("GATEWAY_SKIP_BROWSER") == "1",
    reason="GATEWAY_SKIP_BROWSER=1: browser tests skipped on purpose",
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    live = start_gateway(tmp_path_factory.mktemp("browser-gateway"))
    yield live
    live.stop()


_orgs = iter(range(1000))


def _org(
    gateway: LiveGateway, mode: m.MembershipMode, *, connection: bool = False
) -> tuple[m.Organization, m.Member]:
    n = next(_orgs)
    svc = gateway.services
    view = svc.orgs.create(f"Company {n}", mode, CLI, slug=f"co{n}", domains=[f"co{n}.example"])
    admin = svc.members.add_admin(view.org.id, f"admin@co{n}.example", CLI)
    if connection:
        svc.connections.add(view.org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    return view.org, admin


@pytest.fixture
def invitation_admin(gateway: LiveGateway, browser: Browser) -> Iterator[Visit]:
    org, admin = _org(gateway, m.MembershipMode.INVITATION)
    yield from visit(browser, gateway, org.id, admin.id)


@pytest.fixture
def sso_admin(gateway: LiveGateway, browser: Browser) -> Iterator[Visit]:
    org, admin = _org(gateway, m.MembershipMode.SSO, connection=True)
    yield from visit(browser, gateway, org.id, admin.id)


def test_inviting_and_revoking(invitation_admin: Visit) -> None:
    page = invitation_admin.go("/admin/invitations")
    page.get_by_label("Email addresses").fill("bob@example.com\ncarol@example.com, not-an-email")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.locator("#emails-error")).to_contain_text("Not an email address: not-an-email")
    invitation_admin.screenshot("invitations-error")
    page.get_by_label("Email addresses").fill("bob@example.com\ncarol@example.com")
    page.get_by_role("button", name="Send invitations").click()
    links = page.locator("input.accept-link")
    expect(links).to_have_count(2)
    assert re.match(
        rf"{re.escape(invitation_admin.gateway.url)}/invitations/accept\?token=inv_",
        links.first.input_value(),
    )
    invitation_admin.screenshot("invitations")
    page.get_by_role("button", name="Revoke bob@example.com").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation to bob@example.com is revoked")
    expect(page.get_by_role("row", name=re.compile("bob@example.com"))).to_contain_text("revoked")
    expect(page.get_by_role("row", name=re.compile("carol@example.com"))).to_contain_text("pending")


def test_setting_up_saml_from_metadata_then_previewing_and_applying_the_switch(
    invitation_admin: Visit, tmp_path: Path
) -> None:
    page = invitation_admin.go("/admin/mode")
    page.get_by_role("button", name="Preview the switch to sso mode").click()
    expect(page.locator("#refusal")).to_contain_text("no enabled SSO connection")

    page.get_by_role("link", name="Set up an SSO connection").click()
    page.get_by_role("link", name=re.compile("^Okta")).click()
    expect(page.locator("#sp-values")).to_contain_text(f"{invitation_admin.gateway.url}/saml/")
    invitation_admin.screenshot("connection-setup-okta")
    page.get_by_label("Connection ID (used in the URLs above)").fill("Okta Prod")
    expect(page.locator("#sp-acs")).to_have_text(f"{invitation_admin.gateway.url}/saml/okta-prod/acs")
    page.get_by_label("Connection name").fill("Okta production")
    page.get_by_label("Upload the metadata file (XML)").set_input_files(idp_metadata_file(tmp_path))
    page.get_by_role("button", name="Create the connection").click()
    expect(page.get_by_role("status")).to_contain_text("The SAML connection Okta production is set up")
    expect(page.get_by_text("http://www.okta.com/exkBROWSER")).to_be_visible()
    expect(page.locator("#sp-acs")).to_have_text(f"{invitation_admin.gateway.url}/saml/okta-prod/acs")
    invitation_admin.screenshot("connection")

    invitation_admin.go("/admin/mode")
    page.get_by_role("button", name="Preview the switch to sso mode").click()
    expect(page.locator("#effects")).to_contain_text("1 SSO connection(s) will be re-enabled")
    invitation_admin.screenshot("mode-preview")
    page.get_by_role("button", name="Confirm: switch to sso mode").click()
    expect(page.get_by_role("status")).to_contain_text("now in sso mode")
    expect(page.get_by_role("heading", name="Current mode: sso")).to_be_visible()


def test_a_connection_id_typed_before_the_script_loaded_still_moves_the_urls(
    invitation_admin: Visit,
) -> None:
    page = invitation_admin.page
    held: list[Route] = []
    page.route("**/console.js", lambda route: held.append(route))
    page.goto(invitation_admin.gateway.url + "/admin/connections/new/saml?preset=okta", wait_until="commit")
    page.get_by_label("Connection ID (used in the URLs above)").fill("Okta Early")
    expect(page.get_by_role("button", name="Copy ACS URL (single sign-on URL)")).to_have_count(0)
    held[0].continue_()
    expect(page.locator("#sp-acs")).to_have_text(f"{invitation_admin.gateway.url}/saml/okta-early/acs")
    expect(page.get_by_role("button", name="Copy ACS URL (single sign-on URL)")).to_be_visible()


def test_creating_a_scim_token_shown_once_and_copied(sso_admin: Visit) -> None:
    sso_admin.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sso_admin.gateway.url)
    page = sso_admin.go("/admin/scim")
    page.get_by_label("Token name").fill("Okta provisioning")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_role("textbox", name="SCIM token").input_value()
    assert token.startswith("scim_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    sso_admin.screenshot("scim-token")
    sso_admin.go("/admin/scim")
    assert token not in page.content()
    expect(page.get_by_role("row", name=re.compile("Okta provisioning"))).to_contain_text("active")


def test_without_javascript_the_token_shows_with_no_dead_copy_button(
    gateway: LiveGateway, browser: Browser
) -> None:
    org, admin = _org(gateway, m.MembershipMode.SSO, connection=True)
    for without_js in visit(browser, gateway, org.id, admin.id, java_script_enabled=False):
        page = without_js.go("/admin/scim")
        page.get_by_label("Token name").fill("Okta provisioning")
        page.get_by_role("button", name="Create token").click()
        assert page.get_by_role("textbox", name="SCIM token").input_value().startswith("scim_")
        expect(page.get_by_role("button", name="Copy")).to_have_count(0)


def test_removing_a_member_from_an_sso_organization(sso_admin: Visit, gateway: LiveGateway) -> None:
    svc = gateway.services
    org = _viewer_org(sso_admin)
    actor = m.Actor(m.ActorType.MEMBER, label="saml")
    bob = svc.members.sso_sign_in(org, f"bob@{_domain(svc, org)}", actor).member
    project = svc.orgs.get(org).default_project
    svc.projects.create_resource(org, project.id, m.ResourceKind.MODEL, "churn-model", bob.id, CLI)

    page = sso_admin.go("/admin/members")
    page.get_by_label("Search by email or name").fill("bob@")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=bob.email).click()
    page.get_by_role("link", name="Remove from organization…").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("the identity provider may re-create them at their next sign-in")
    sso_admin.screenshot("member-remove")
    dialog.get_by_label(f"Block {bob.email} so single sign-on cannot re-create this member").check()
    dialog.get_by_role("button", name="Remove member").click()
    expect(page.get_by_role("status")).to_contain_text(f"{bob.email} was removed")
    expect(page.get_by_role("status")).to_contain_text("The email is blocked")
    expect(page.get_by_role("row", name=re.compile("churn-model"))).to_be_visible()
    assert svc.members.get(org, bob.id).member.status is m.MemberStatus.REMOVED


def _viewer_org(current: Visit) -> str:
    cookies = {c["name"]: c["value"] for c in current.context.cookies()}
    signed_in = current.gateway.services.sessions.resolve(cookies["gw_session"])
    assert signed_in is not None
    return signed_in.org.id


def _domain(svc, org_id: str) -> str:  # type: ignore[no-untyped-def]
    return svc.orgs.get(org_id).domains[0].domain


PHONE_SCREENSHOTS = {"overview", "members", "mode"}
PAGES = {
    "overview": "/admin/",
    "members": "/admin/members",
    "mode": "/admin/mode",
    "connections": "/admin/connections",
    "scim": "/admin/scim",
    "api-keys": "/admin/api-keys",
    "projects": "/admin/projects",
    "audit": "/admin/audit",
    "invitations-in-sso-mode": "/admin/invitations",
    "saml-setup": "/admin/connections/new/saml?preset=entra",
    "oidc-setup": "/admin/connections/new/oidc?preset=google",
    "blocked-emails": "/admin/blocked-emails",
}
NOT_SHOWN = {"invitations-in-sso-mode", "saml-setup", "oidc-setup", "blocked-emails"}


def test_every_page_fits_a_phone_and_a_desktop_without_errors(sso_admin: Visit) -> None:
    org = _viewer_org(sso_admin)
    svc = sso_admin.gateway.services
    for i in range(12):
        svc.members.sso_sign_in(
            org, f"person{i:02d}@{_domain(svc, org)}", m.Actor(m.ActorType.MEMBER, label="saml")
        )
    for name, path in PAGES.items():
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            sso_admin.page.set_viewport_size(viewport)
            page = sso_admin.go(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert sso_admin.fits(), f"{path} scrolls sideways at {viewport['width']} px"
            if name in NOT_SHOWN:
                continue
            if width == "desktop":
                sso_admin.screenshot(name)
            elif name in PHONE_SCREENSHOTS:
                sso_admin.screenshot(f"{name}-phone")


def test_a_refused_scim_request_appears_in_the_scim_log(gateway: LiveGateway, browser: Browser) -> None:
    """The identity provider's failing request (a duplicate userName) is on the SCIM page with its
    status, scimType and detail, and stays there when the log is filtered to refused requests."""
    org, admin = _org(gateway, m.MembershipMode.SSO, connection=True)
    token = gateway.services.credentials.create_scim_token(org.id, CLI).token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"ada@{org.slug}.example"}
    for expected in (201, 409):
        answer = requests.post(f"{gateway.url}/scim/v2/Users", json=user, headers=headers, timeout=10)
        assert answer.status_code == expected, answer.text
    for current in visit(browser, gateway, org.id, admin.id):
        page = current.go("/admin/scim")
        log = page.locator("#scim-log")
        expect(log).to_contain_text("409")
        expect(log).to_contain_text("uniqueness")
        page.get_by_label("Outcome").select_option("refused")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"outcome=refused"))
        expect(log.locator("tbody tr")).to_have_count(1)
        expect(log).to_contain_text("POST /scim/v2/Users")
        expect(log).not_to_contain_text("201")
