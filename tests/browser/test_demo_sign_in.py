"""The out-of-the-box demo in headless Chromium: the gateway on a loopback port with the built-in demo IdP
(``GATEWAY_DEMO_IDP=1``), a SQLite database migrated to head and ``gateway demo seed``, exactly as ``make run``
prepares it. The gateway calls its own ``/demo-idp`` endpoints over HTTP during each sign-in (discovery,
token exchange, JWKS), so the server is threaded.

1. SSO mode: /login with admin@demo.example -> the demo IdP -> pick yourself -> signed in -> /admin overview.
2. Invitation mode: the Admin of invite-demo signs in with the platform login provider (the demo IdP), sends
   an invitation (its link shown once in the console, and emailed to the development mailbox by the outbox
   worker), and the invited person accepts it from the email by signing in as the invited address.
3. SAML: /login with alan@saml.example -> /saml/demo-idp-saml/login -> the demo IdP's SAML page -> pick -> the
   signed Response posted to the ACS by the page's script -> signed in.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from browser_helpers import DESKTOP
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.app import create_app
from gateway.cli import _load_commands, cli
from gateway.demo_idp import init_demo_idp
from gateway.domain import model as m
from gateway.services import Services
from gateway.settings import load_settings
from gateway.storage.migrate import upgrade

pytestmark = pytest.mark.skipif(
    os.environ.get("GATEWAY_SKIP_BROWSER") == "1",
    reason="GATEWAY_SKIP_BROWSER=1: browser tests skipped on purpose",
)

SECRET_KEY = "demo-browser-secret"


@dataclass
class DemoGateway:
    url: str
    app: Flask
    server: BaseWSGIServer

    @property
    def services(self) -> Services:
        return self.app.extensions["gateway.services"]


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    workdir = tmp_path_factory.mktemp("demo-gateway")
    server = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    overrides = {
        "database_url": f"sqlite:///{workdir / 'gateway.db'}",
        "instance_path": str(workdir / "instance"),
        "secret_key": SECRET_KEY,
        "public_url": url,
        "demo_idp": 1,
    }
    upgrade(overrides["database_url"])
    _load_commands()
    seeder = create_app(settings=load_settings(overrides))
    init_demo_idp(seeder)  # a no-op once create_app registers the demo IdP itself
    exports = _cli(seeder, "demo", "env")
    seeded = _cli(seeder, "demo", "seed")
    assert f"Open {url}/login" in seeded
    seeder.extensions["gateway.services"].db.dispose()
    environ = dict(line.removeprefix("export ").split("=", 1) for line in exports.strip().splitlines())
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():  # what `make run` exports before `gateway serve`
            patch.setenv(name, value.strip("'"))
        app = create_app(settings=load_settings(overrides))
    init_demo_idp(app)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="demo-gateway", daemon=True)
    thread.start()
    yield DemoGateway(url, app, server)
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["gateway.services"].db.dispose()


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """JavaScript errors of every page the test opened (the demo IdP's pages and the console's)."""
    seen: list[str] = []
    yield seen
    assert seen == []


def _context(browser: Browser, errors: list[str]) -> BrowserContext:
    fresh = browser.new_context(viewport=DESKTOP)
    fresh.on("weberror", lambda error: errors.append(str(error.error)))
    return fresh


@pytest.fixture
def context(browser: Browser, errors: list[str]) -> Iterator[BrowserContext]:
    fresh = _context(browser, errors)
    yield fresh
    fresh.close()


def _pick_at_demo_idp(page: Page, demo: DemoGateway, email: str) -> None:
    """On the demo IdP's page: the login hint already chose the person; confirm it is them, and sign in."""
    expect(page).to_have_url(re.compile(rf"^{re.escape(demo.url)}/demo-idp/authorize\?"))
    expect(page.get_by_role("heading", name="Who is signing in?")).to_be_visible()
    person = page.get_by_role("radio", name=re.compile(re.escape(f"<{email}>")))
    if person.count():
        expect(person).to_be_checked()
    else:
        expect(page.get_by_label(re.compile("Or type any email address"))).to_have_value(email)
    page.get_by_role("button", name="Sign in").click()


def _link_from_the_dev_mailbox(demo: DemoGateway, email: str) -> str:
    """What the invited person finds in their email: the outbox worker delivers to the development mailbox."""
    _cli(demo.app, "worker", "--once")
    messages = [mail for mail in json.loads(_cli(demo.app, "mailbox", "--json")) if email in mail["to"]]
    assert len(messages) == 1, messages
    found = re.search(rf"{re.escape(demo.url)}/invitations/accept\?token=[\w-]+", messages[0]["text"])
    assert found, messages[0]["text"]
    return found.group(0)


def _me(page: Page, demo: DemoGateway) -> dict:
    response = page.request.get(f"{demo.url}/me")
    assert response.status == 200, response.text()
    return response.json()


def test_the_demo_admin_signs_in_through_the_demo_idp_and_opens_the_console(
    demo: DemoGateway, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{demo.url}/login")
    page.get_by_label("Work email").fill("admin@demo.example")
    page.get_by_role("button", name="Continue").click()
    _pick_at_demo_idp(page, demo, "admin@demo.example")
    expect(page).not_to_have_url(re.compile("/demo-idp/"))
    me = _me(page, demo)
    assert (me["email"], me["role"], me["organization"]["slug"]) == ("admin@demo.example", "admin", "demo")
    page.goto(f"{demo.url}/admin")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.locator("body")).to_contain_text("Demo Company")


def test_a_member_of_the_saml_demo_signs_in_over_saml(demo: DemoGateway, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{demo.url}/login")
    page.get_by_label("Work email").fill("alan@saml.example")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(demo.url)}/demo-idp/saml/sso\?SAMLRequest="))
    expect(page.get_by_role("heading", name="Who is signing in?")).to_be_visible()
    page.get_by_role("radio", name=re.compile(re.escape("<alan@saml.example>"))).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile("/demo-idp/|/saml/"))
    me = _me(page, demo)
    assert (me["email"], me["role"], me["organization"]["slug"]) == (
        "alan@saml.example",
        "member",
        "saml-demo",
    )


def test_an_invitation_is_accepted_through_the_platform_login(
    demo: DemoGateway, browser: Browser, errors: list[str]
) -> None:
    admin_context = _context(browser, errors)
    page = admin_context.new_page()
    page.goto(f"{demo.url}/login")
    page.get_by_label("Work email").fill("admin@invite.example")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Sign in with Demo IdP").click()
    _pick_at_demo_idp(page, demo, "admin@invite.example")
    page.goto(f"{demo.url}/admin/invitations")
    page.get_by_label("Email addresses").fill("jo.newhire@invite.example")
    page.get_by_role("button", name="Send invitations").click()
    link = page.locator("input.accept-link")
    expect(link).to_have_count(1)
    shown_once = link.input_value()
    assert shown_once.startswith(f"{demo.url}/invitations/accept?token=inv_")
    admin_context.close()
    accept_url = _link_from_the_dev_mailbox(demo, "jo.newhire@invite.example")
    assert accept_url == shown_once

    invited_context = _context(browser, errors)
    page = invited_context.new_page()
    page.goto(accept_url)
    expect(page.get_by_role("heading", name="You are invited to join Invite Demo")).to_be_visible()
    page.get_by_role("link", name="Sign in with Demo IdP and accept").click()
    _pick_at_demo_idp(page, demo, "jo.newhire@invite.example")
    expect(page).not_to_have_url(re.compile("/demo-idp/|/invitations/"))
    me = _me(page, demo)
    assert (me["email"], me["role"], me["organization"]["slug"]) == (
        "jo.newhire@invite.example",
        "member",
        "invite-demo",
    )
    invited_context.close()

    org = next(v.org for v in demo.services.orgs.list() if v.org.slug == "invite-demo")
    members = {mb.email: mb for mb in demo.services.members.list(org.id, limit=100)[0]}
    assert members["jo.newhire@invite.example"].role is m.Role.MEMBER
    assert members["jo.newhire@invite.example"].status is m.MemberStatus.ACTIVE


def test_an_admin_edits_the_demo_connection_and_tests_it_while_disabled(
    demo: DemoGateway, context: BrowserContext
) -> None:
    """Edit the connection, disable the organization's only connection (the console asks for its ID in words),
    run a test sign-in on it at the demo IdP and read the report; the Admin stays signed in throughout."""
    page = context.new_page()
    page.goto(f"{demo.url}/login")
    page.get_by_label("Work email").fill("admin@demo.example")
    page.get_by_role("button", name="Continue").click()
    _pick_at_demo_idp(page, demo, "admin@demo.example")
    org = next(v.org for v in demo.services.orgs.list() if v.org.slug == "demo")
    (connection,) = demo.services.connections.list(org.id)
    page.goto(f"{demo.url}/admin/connections/{connection.id}")

    page.get_by_label("Name", exact=True).fill("Demo IdP (edited)")
    page.get_by_label("IdP groups whose members are Admins (one per line)").fill("demo-admins")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("body")).to_contain_text("The connection is saved.")
    expect(page.get_by_role("heading", name="Demo IdP (edited)")).to_be_visible()

    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.locator("#lockout-warning")).to_contain_text("nobody can sign in")
    page.get_by_label("Connection ID").fill(connection.slug)
    page.get_by_role("button", name="Disable and lock everyone out").click()
    expect(page.locator("body")).to_contain_text("is disabled")

    page.get_by_role("link", name="Test sign-in").click()
    expect(page.get_by_role("heading", name="Who is signing in?")).to_be_visible()
    page.get_by_role("radio", name=re.compile(re.escape("<ada@demo.example>"))).check()
    page.get_by_role("button", name="Sign in").click()
    report = page.locator("#test-report")
    expect(report).to_contain_text("would work")
    expect(report).to_contain_text("connection disabled")
    expect(page.locator("#test-outcome")).to_contain_text("Sign in as member")
    expect(page.locator("#test-received")).to_contain_text("ada@demo.example")
    assert _me(page, demo)["email"] == "admin@demo.example"  # the test never touched the Admin's session

    page.get_by_role("button", name="Enable", exact=True).click()
    expect(page.locator("body")).to_contain_text("is enabled")
