"""Rotating an OIDC connection's client secret against the npm ``oidc-provider`` (issue 13): the old secret
keeps sign-ins working until the provider has the new one; the first sign-in with the new one drops the old."""

from __future__ import annotations

from flask import Flask

from gateway.services import Services

from .conftest import CLI, CLIENT_SECRET, Tenant
from .peer import Browser, OpenIdProvider


def _signed_in(browser: Browser, tenant: Tenant, login: str) -> None:
    response = browser.sign_in(tenant.login_path, login)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert browser.gateway.get("/me").get_json()["email"] == login


def _kept(app_services: Services, tenant: Tenant) -> bool:
    connection = app_services.connections.by_slug(tenant.connection.slug)
    assert connection is not None
    return bool(connection.config.get("previous_client_secret"))


def test_the_old_secret_is_used_until_the_provider_has_the_new_one(
    app: Flask, app_services: Services, tenant: Tenant, browser: Browser, provider: OpenIdProvider
) -> None:
    oidc = app_services.oidc_connections  # type: ignore[attr-defined]
    oidc.rotate_client_secret(tenant.org.id, tenant.connection.id, "the-new-client-secret", CLI)
    _signed_in(browser, tenant, "alice@acme.test")  # the provider still has the old secret
    assert _kept(app_services, tenant)

    provider.change_client_secret(tenant.client_id, "the-new-client-secret")
    _signed_in(Browser(app.test_client()), tenant, "bob@acme.test")
    assert not _kept(app_services, tenant)
    dropped = app_services.audit.list(tenant.org.id, action="connection.oidc.previous_secret_dropped")[0]
    assert dropped and dropped[0].actor_type.value == "system"

    provider.change_client_secret(tenant.client_id, CLIENT_SECRET)  # the old one no longer works
    refused = Browser(app.test_client()).sign_in(tenant.login_path, "carol@acme.test")
    assert refused.status_code == 403 and "token_exchange_failed" in refused.get_data(as_text=True)


def test_an_admin_drops_the_old_secret_and_it_is_no_longer_tried(
    app: Flask, app_services: Services, tenant: Tenant, browser: Browser
) -> None:
    oidc = app_services.oidc_connections  # type: ignore[attr-defined]
    oidc.rotate_client_secret(tenant.org.id, tenant.connection.id, "a-secret-the-provider-lacks", CLI)
    oidc.drop_previous_client_secret(tenant.org.id, tenant.connection.id, CLI)
    refused = browser.sign_in(tenant.login_path, "alice@acme.test")
    assert refused.status_code == 403 and "token_exchange_failed" in refused.get_data(as_text=True)
