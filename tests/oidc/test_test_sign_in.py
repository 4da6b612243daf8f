"""Test sign-in as a diagnosis against npm's oidc-provider (issue 13): it works on a disabled connection and
before the switch to SSO mode, never touches the Admin's session or creates a member, and saves a report of
what the provider sent and what the gateway would do, and why."""

from __future__ import annotations

from flask import Flask

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME

from .conftest import CLI, Tenant, add_oidc_tenant
from .peer import Browser, OpenIdProvider


def _as_admin(browser: Browser, services: Services, org_id: str, email: str = "root@acme.test") -> str:
    admin = services.members.add_admin(org_id, email, CLI)
    _, token = services.sessions.start(org_id, admin.id, CLI)
    browser.gateway.set_cookie(COOKIE_NAME, token)
    return token


def _test(browser: Browser, tenant: Tenant, login: str):  # type: ignore[no-untyped-def]
    back = f"/admin/connections/{tenant.connection.id}"
    browser.start(f"/oidc/{tenant.connection.slug}/test?next={back}")
    response = browser.finish(browser.authenticate(login))
    assert response.status_code == 303 and response.headers["Location"] == back, response.get_data(
        as_text=True
    )
    return response


def _report(services: Services, tenant: Tenant) -> dict:
    connection = services.connections.by_slug(tenant.connection.slug)
    assert connection is not None
    return connection.config["last_test"]


def test_a_test_on_a_disabled_connection_reports_and_changes_nothing(
    tenant: Tenant, browser: Browser, app_services: Services
) -> None:
    token = _as_admin(browser, app_services, tenant.org.id)
    app_services.connections.set_enabled(tenant.org.id, tenant.connection.id, False, CLI, override=True)
    response = _test(browser, tenant, "alice@acme.test")

    assert COOKIE_NAME not in " ".join(response.headers.getlist("Set-Cookie"))
    assert browser.gateway.get("/me").get_json()["email"] == "root@acme.test"
    assert app_services.sessions.resolve(token) is not None
    assert app_services.members.list(tenant.org.id)[1] == 1  # only the Admin; alice was not created
    report = _report(app_services, tenant)
    assert report["ok"] is True and report["connection_state"] == "disabled"
    assert report["received"]["email"] == "alice@acme.test" and report["received"]["subject"]
    assert report["received"]["issuer"] == tenant.connection.config["issuer"]
    assert "exp" in report["received"]["times"] and report["received"]["claims"]["email"] == "alice@acme.test"
    assert report["outcome"]["action"] == "create" and report["outcome"]["role"] == "member"
    assert "disabled" in report["outcome"]["note"]
    page = browser.gateway.get(f"/admin/connections/{tenant.connection.id}").get_data(as_text=True)
    assert "Last test sign-in" in page and "create the member just in time as member" in page
    audited = app_services.audit.list(tenant.org.id, action="connection.test_sign_in")[0]
    assert audited and audited[0].details["ok"] is True
    assert not app_services.audit.list(tenant.org.id, action="sign_in.succeeded")[0]


def test_before_the_switch_to_sso_it_says_what_would_happen_after(
    app: Flask, app_services: Services, provider: OpenIdProvider, live_clock
) -> None:  # type: ignore[no-untyped-def]
    tenant = add_oidc_tenant(app, provider, slug="initech", domain="initech.test", admin_groups=["admins"])
    app_services.mode.apply(tenant.org.id, m.MembershipMode.INVITATION, CLI)
    browser = Browser(app.test_client())
    _as_admin(browser, app_services, tenant.org.id, "root@initech.test")
    _test(browser, tenant, "alice@initech.test")
    report = _report(app_services, tenant)
    assert report["ok"] is False and report["outcome"]["action"] == "refuse"
    assert report["outcome"]["reason"] == "mode_forbids"
    assert report["outcome"]["after_switch_to_sso"]["action"] == "create"


def test_an_existing_member_and_a_provider_refusal_are_reported(
    tenant: Tenant, browser: Browser, app_services: Services, provider: OpenIdProvider
) -> None:
    _as_admin(browser, app_services, tenant.org.id)
    _test(browser, tenant, "root@acme.test")
    assert _report(app_services, tenant)["outcome"]["action"] == "sign_in"
    assert "keeps their role" in _report(app_services, tenant)["outcome"]["why"]

    provider.change_client_secret(tenant.client_id, "rotated-at-the-provider")
    _test(browser, tenant, "alice@acme.test")
    report = _report(app_services, tenant)
    assert report["ok"] is False and report["error"]["code"] == "token_exchange_failed"
    assert "refused the identity provider's answer" in report["outcome"]["why"]
    assert browser.gateway.get("/me").get_json()["email"] == "root@acme.test"


def test_only_an_admin_of_the_organization_can_start_a_test(
    tenant: Tenant, browser: Browser, app_services: Services
) -> None:
    path = f"/oidc/{tenant.connection.slug}/test"
    assert browser.gateway.get(path).status_code == 403
    member = app_services.members.add_admin(tenant.org.id, "bea@acme.test", CLI)
    app_services.members.change_role(tenant.org.id, member.id, m.Role.MEMBER, CLI, override=True)
    _, token = app_services.sessions.start(tenant.org.id, member.id, CLI)
    browser.gateway.set_cookie(COOKIE_NAME, token)
    assert browser.gateway.get(path).status_code == 403
    assert "last_test" not in (app_services.connections.by_slug(tenant.connection.slug).config or {})  # type: ignore[union-attr]
