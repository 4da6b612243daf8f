"""What a real sign-in does to the session: a new one every time (no fixation), cookie flags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.domain import model as m
from gateway.settings import load_settings

from .conftest import Tenant, add_oidc_tenant
from .peer import Browser, OpenIdProvider


def session_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("gw_session="))


def test_sign_in_replaces_a_session_planted_before_it(
    app: Flask, tenant: Tenant, browser: Browser, app_services
) -> None:  # type: ignore[no-untyped-def]
    """Session fixation: a token an attacker planted in the browser is ended, and a fresh one issued."""
    _, planted = app_services.sessions.start_identity("mallory@evil.test", True, "test", "mallory")
    browser.gateway.set_cookie("gw_session", planted)

    response = browser.sign_in(tenant.login_path, "alice@acme.test")

    issued = browser.gateway.get_cookie("gw_session").value
    assert issued != planted
    assert app_services.sessions.identity(planted) is None
    assert browser.gateway.get("/me").get_json()["email"] == "alice@acme.test"
    assert response.status_code == 303


def test_each_sign_in_issues_a_new_session(app: Flask, tenant: Tenant, browser: Browser) -> None:
    browser.sign_in(tenant.login_path, "alice@acme.test")
    first = browser.gateway.get_cookie("gw_session").value
    browser.sign_in(tenant.login_path, "alice@acme.test")
    second = browser.gateway.get_cookie("gw_session").value
    assert first != second
    stale = app.test_client()
    stale.set_cookie("gw_session", first)
    assert stale.get("/me").status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax_in_development(tenant: Tenant, browser: Browser) -> None:
    header = session_cookie_header(browser.sign_in(tenant.login_path, "alice@acme.test"))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header


def test_binding_cookie_is_httponly_and_samesite_lax(tenant: Tenant, browser: Browser) -> None:
    response = browser.gateway.get(tenant.login_path)
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("gw_oidc_binding="))
    assert "HttpOnly" in header and "SameSite=Lax" in header


@pytest.fixture
def production_app(db, db_url: str, clock, tmp_path: Path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    settings = load_settings(
        {
            "database_url": db_url,
            "instance_path": str(tmp_path / "prod-instance"),
            "secret_key": "production-test-secret",
            "public_url": "https://gateway.test",
            "env": "production",
        }
    )
    app = create_app(settings=settings, clock=clock)
    app.config["TESTING"] = True
    yield app
    app.extensions["gateway.services"].db.dispose()


def test_cookies_are_secure_in_production(
    production_app: Flask, provider: OpenIdProvider, live_clock
) -> None:  # type: ignore[no-untyped-def]
    runtime = production_app.extensions["gateway.oidc"]
    runtime.outbound.allow_private = True  # the loopback provider speaks http; production requires https
    tenant = add_oidc_tenant(production_app, provider, slug="prod", domain="prod.test")
    browser = Browser(production_app.test_client(), public_url="https://gateway.test")

    start = browser.gateway.get(tenant.login_path)
    assert "Secure" in next(
        h for h in start.headers.getlist("Set-Cookie") if h.startswith("gw_oidc_binding=")
    )
    browser.authorize_url = start.headers["Location"]
    response = browser.finish(browser.authenticate("paul@prod.test"))

    header = session_cookie_header(response)
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert (
        production_app.extensions["gateway.services"].members.list(tenant.org.id)[0][0].role is m.Role.MEMBER
    )
