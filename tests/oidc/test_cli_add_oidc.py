"""``gateway connection add-oidc`` against the loopback provider's real discovery document."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m

from .conftest import CLI
from .peer import OpenIdProvider

_load_commands()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def test_add_oidc_discovers_the_issuer_and_prints_the_redirect_uri(
    app: Flask, provider: OpenIdProvider, app_services, live_clock
) -> None:  # type: ignore[no-untyped-def]
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme").org
    result = run(
        app, "connection", "add-oidc", "acme", "--issuer", provider.issuer, "--client-id", "cid",
        "--client-secret", "top-secret", "--preset", "okta", "--domain", "acme.test", "--admin-group", "admins", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["protocol"] == "oidc" and data["preset"] == "okta"
    assert data["issuer"] == provider.issuer
    assert data["redirect_uri"] == f"http://gateway.test/oidc/{data['slug']}/callback"
    assert data["login_url"] == f"http://gateway.test/oidc/{data['slug']}/login"
    assert "groups" in data["scopes"] and data["admin_groups"] == ["admins"]
    assert "top-secret" not in result.output
    assert [d.domain for d in app_services.orgs.get(org.id).domains] == ["acme.test"]
    stored = app_services.connections.by_slug(data["slug"])
    assert stored.config["client_secret"].startswith("fernet:v1:") and "top-secret" not in json.dumps(
        stored.config
    )


def test_add_oidc_human_output(app: Flask, provider: OpenIdProvider, app_services) -> None:  # type: ignore[no-untyped-def]
    app_services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI, slug="initech")
    result = run(
        app,
        "connection",
        "add-oidc",
        "initech",
        "--issuer",
        provider.issuer,
        "--client-id",
        "c",
        "--client-secret",
        "s",
    )
    assert result.exit_code == 0, result.output
    assert (
        "Register this redirect URI at the provider: http://gateway.test/oidc/initech-generic-oidc/callback"
        in result.output
    )
    assert "disabled while the organization is in invitation mode" in result.output


def test_add_oidc_with_an_unreachable_issuer_fails_clearly(app: Flask, app_services) -> None:  # type: ignore[no-untyped-def]
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme")
    result = run(
        app,
        "connection",
        "add-oidc",
        "acme",
        "--issuer",
        "http://127.0.0.1:9/",
        "--client-id",
        "c",
        "--client-secret",
        "s",
        "--json",
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "provider_unreachable"
    assert app_services.connections.list(app_services.orgs.resolve("acme").id) == []


def test_add_oidc_refuses_entra_multi_tenant_issuer(app: Flask, app_services) -> None:  # type: ignore[no-untyped-def]
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme")
    result = run(
        app, "connection", "add-oidc", "acme", "--issuer", "https://login.microsoftonline.com/common/v2.0",
        "--client-id", "c", "--client-secret", "s", "--preset", "entra",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "tenant-specific issuer" in result.output


def test_connection_list_shows_the_oidc_connection(
    app: Flask, provider: OpenIdProvider, app_services
) -> None:  # type: ignore[no-untyped-def]
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme")
    run(
        app,
        "connection",
        "add-oidc",
        "acme",
        "--issuer",
        provider.issuer,
        "--client-id",
        "c",
        "--client-secret",
        "s",
    )
    result = run(app, "connection", "list", "acme")
    assert "acme-generic-oidc\toidc\tenabled" in result.output


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"])
def test_in_production_add_oidc_never_fetches_from_a_private_address(
    app: Flask, app_services, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:  # type: ignore[no-untyped-def]
    app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, slug="acme")
    requested: list[str] = []
    runtime = app.extensions["gateway.oidc"]
    monkeypatch.setattr(runtime.outbound, "allow_private", False)
    monkeypatch.setattr(runtime.outbound, "resolver", lambda name, port: [address])
    monkeypatch.setattr(runtime.connections, "fetch", lambda url: requested.append(url) or {})
    result = run(
        app, "connection", "add-oidc", "acme", "--issuer", "https://idp.example.com", "--client-id", "c",
        "--client-secret", "s", "--json",
    )  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "invalid_input" and address in result.output
    assert requested == []
    assert app_services.connections.list(app_services.orgs.resolve("acme").id) == []
