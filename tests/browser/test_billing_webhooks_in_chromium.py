"""The Billing, Webhooks and Account migrations pages in headless Chromium: what an Admin (and a Member) clicks
through, at desktop and phone widths, with no JavaScript error."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (
    CLI,
    DESKTOP,
    PHONE,
    LiveGateway,
    Visit,
    start_gateway,
    visit,
)
from playwright.sync_api import Browser, expect

from gateway.domain import model as m
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import MessageStatus

pytestmark = pytest.mark.skipif(
    os.environ.get("GATEWAY_SKIP_BROWSER") == "1",
    reason="GATEWAY_SKIP_BROWSER=1: browser tests skipped on purpose",
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    live = start_gateway(tmp_path_factory.mktemp("browser-billing"))
    yield live
    live.stop()


_orgs = iter(range(1000))


def _org(gateway: LiveGateway) -> tuple[m.Organization, m.Member]:
    n = next(_orgs)
    svc = gateway.services
    view = svc.orgs.create(f"Billing Co {n}", m.MembershipMode.INVITATION, CLI, slug=f"bill{n}")
    admin = svc.members.add_admin(view.org.id, f"admin@bill{n}.example", CLI)
    return view.org, admin


def _member(gateway: LiveGateway, org: m.Organization, email: str) -> m.Member:
    svc = gateway.services
    added = svc.members.add_admin(org.id, email, CLI)
    return svc.members.change_role(org.id, added.id, m.Role.MEMBER, CLI, override=True)


@pytest.fixture
def org(gateway: LiveGateway) -> tuple[m.Organization, m.Member]:
    return _org(gateway)


@pytest.fixture
def admin(gateway: LiveGateway, browser: Browser, org: tuple[m.Organization, m.Member]) -> Iterator[Visit]:
    yield from visit(browser, gateway, org[0].id, org[1].id, accept_downloads=True)


def test_an_admin_buys_credits_sets_the_policy_and_exports_the_statement(
    admin: Visit, browser: Browser, gateway: LiveGateway, org: tuple[m.Organization, m.Member]
) -> None:
    organization, _ = org
    ada = _member(gateway, organization, f"ada@{organization.slug}.example")
    project = gateway.services.orgs.get(organization.id).default_project
    page = admin.go("/admin/billing")
    page.get_by_label("Credits", exact=True).fill("abc")
    page.get_by_role("button", name="Buy credits").click()
    expect(page.locator("#credits-error")).to_contain_text("whole number")
    page.get_by_label("Credits", exact=True).fill("1,500")
    page.get_by_label("Description (optional)").fill("PO-77")
    page.get_by_role("button", name="Buy credits").click()
    expect(page.get_by_role("status")).to_contain_text("Bought 1,500 credits")
    gateway.services.billing.spend(organization.id, project.id, ada.id, 400, CLI, "training")
    page.reload()
    expect(page.get_by_test_id("balance")).to_have_text("1,100 credits")
    expect(page.get_by_test_id("closing")).to_have_text("1,100")
    expect(page.get_by_test_id("by-member").get_by_role("row", name=re.compile("ada@"))).to_contain_text(
        "400"
    )
    expect(page.get_by_role("row", name="Default Project 400")).to_be_visible()
    admin.screenshot("billing")

    page.get_by_label("Members may buy credits (Admins always may)").uncheck()
    page.get_by_label("Monthly purchase limit per member").fill("2000")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("The purchase policy is saved")
    expect(page.get_by_text("Only Admins, at most 2,000 credits per member per month")).to_be_visible()
    page.get_by_label("Credits", exact=True).fill("600")
    page.get_by_role("button", name="Buy credits").click()
    expect(page.locator("#credits-error")).to_contain_text("at most 500 more")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    totals = {r[1]: int(r[2]) for r in rows if r and r[0] == "total"}
    assert totals == {"opening_balance": 0, "purchased": 1500, "used": 400, "closing_balance": 1100}

    for member_visit in visit(browser, gateway, organization.id, ada.id):
        member_page = member_visit.go("/admin/billing")
        expect(member_page.get_by_text("allow only Admins to buy credits")).to_be_visible()
        expect(member_page.get_by_role("button", name="Save policy")).to_have_count(0)


def test_an_admin_manages_webhook_endpoints_and_retries_a_dead_letter(
    admin: Visit, gateway: LiveGateway, org: tuple[m.Organization, m.Member]
) -> None:
    organization, _ = org
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.url)
    page = admin.go("/admin/webhooks")
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_label("member.created").first.check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_role("textbox", name="Signing secret").input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    admin.screenshot("webhooks")
    admin.go("/admin/webhooks")
    assert secret not in page.content()
    row = page.get_by_role("row", name=re.compile(r"127\.0\.0\.1:9"))
    expect(row).to_contain_text("member.created")
    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("is disabled")
    expect(page.get_by_role("row", name=re.compile(r"127\.0\.0\.1:9"))).to_contain_text("disabled")
    page.get_by_role("row", name=re.compile(r"127\.0\.0\.1:9")).get_by_role(
        "button", name="Rotate secret"
    ).click()
    assert page.get_by_role("textbox", name="Signing secret").input_value() not in ("", secret)

    _member(gateway, organization, f"bob@{organization.slug}.example")  # a member.created event to deliver
    with gateway.services.db.transaction() as tx:
        store = OutboxStore(tx)
        messages, _ = store.messages(organization.id, status=MessageStatus.PENDING, limit=10)
        for message in messages:
            message.status, message.attempts, message.last_error = MessageStatus.DEAD, 8, "connection refused"
    admin.go("/admin/webhooks")
    page.get_by_role("link", name="1 dead letter(s)").click()
    expect(page.get_by_test_id("deliveries")).to_contain_text("connection refused")
    admin.screenshot("webhook-dead-letters")
    page.get_by_role("button", name=re.compile("^Retry member.created")).click()
    expect(page.get_by_role("status")).to_contain_text("queued for delivery again")
    assert gateway.services.webhooks.stats(organization.id).get("dead", 0) == 0


def test_an_admin_previews_and_requests_an_account_migration(
    admin: Visit, gateway: LiveGateway, org: tuple[m.Organization, m.Member]
) -> None:
    other = gateway.services.orgs.create(f"Personal {next(_orgs)}", m.MembershipMode.INVITATION, CLI)
    email = f"grace{other.org.slug}@mail.example"
    gateway.services.members.add_admin(other.org.id, email, CLI)
    page = admin.go("/admin/migrations")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview")).to_contain_text("joins")
    expect(page.get_by_test_id("preview")).to_contain_text("approval is automatic")
    page.get_by_role("button", name="Request migration").click()
    expect(page.get_by_role("status")).to_contain_text(f"Migration of {email} requested")
    expect(page.get_by_test_id("migrations")).to_contain_text("requested")


def test_the_new_pages_fit_a_phone_and_a_desktop(
    admin: Visit, gateway: LiveGateway, org: tuple[m.Organization, m.Member]
) -> None:
    gateway.services.webhooks.create(org[0].id, "http://127.0.0.1:9/a-rather-long-path/for/webhooks", CLI)
    for path in ("/admin/billing", "/admin/webhooks", "/admin/webhooks/deliveries", "/admin/migrations"):
        for viewport in (DESKTOP, PHONE):
            admin.page.set_viewport_size(viewport)
            page = admin.go(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            assert admin.fits(), f"{path} scrolls sideways at {viewport['width']} px"
