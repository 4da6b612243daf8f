"""Fixtures of the OIDC tests: one loopback OpenID Provider per test session, reset before each test, and
an organization in SSO mode with an OIDC connection to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask

from gateway.domain import model as m
from gateway.oidc.platform import PlatformDirectory, PlatformLogin
from gateway.services import Services
from gateway.services.oidc_connections import fetch_json
from gateway.services.outbound import OutboundPolicy

from .peer import PUBLIC_URL, Browser, OpenIdProvider

collect_ignore = ["provider"]

CLI = m.Actor.cli()
CLIENT_SECRET = "connection-client-secret"


@pytest.fixture(scope="session")
def openid_provider() -> Iterator[OpenIdProvider]:
    provider = OpenIdProvider()
    yield provider
    provider.stop()


@pytest.fixture
def provider(openid_provider: OpenIdProvider) -> OpenIdProvider:
    openid_provider.reset()
    return openid_provider


@pytest.fixture
def live_clock(clock):  # type: ignore[no-untyped-def]
    """The fake clock set to the real time: the provider stamps tokens with the real time."""
    clock.now = datetime.now(UTC).replace(microsecond=0)
    return clock


@dataclass
class Tenant:
    org: m.Organization
    connection: m.SsoConnection
    client_id: str

    @property
    def login_path(self) -> str:
        return f"/oidc/{self.connection.slug}/login"


def add_oidc_tenant(
    app: Flask,
    provider: OpenIdProvider,
    *,
    slug: str = "acme",
    domain: str = "acme.test",
    preset: str = "generic",
    admin_groups: list[str] | None = None,
) -> Tenant:
    svc: Services = app.extensions["gateway.services"]
    view = svc.orgs.create(slug.title(), m.MembershipMode.SSO, CLI, slug=slug, domains=[domain])
    client_id = f"{slug}-client"
    with app.app_context():
        created = svc.oidc_connections.add(  # type: ignore[attr-defined]
            view.org.id, CLI, issuer=provider.issuer, client_id=client_id, client_secret=CLIENT_SECRET,
            preset=preset, admin_groups=admin_groups,
        )  # fmt: skip
    provider.add_client(client_id, CLIENT_SECRET, created.redirect_uri)
    return Tenant(view.org, created.connection, client_id)


@pytest.fixture
def tenant(app: Flask, provider: OpenIdProvider, live_clock) -> Tenant:  # type: ignore[no-untyped-def]
    return add_oidc_tenant(app, provider)


@pytest.fixture
def browser(client) -> Browser:  # type: ignore[no-untyped-def]
    return Browser(client)


@pytest.fixture
def platform(app: Flask, provider: OpenIdProvider, live_clock) -> PlatformLogin:  # type: ignore[no-untyped-def]
    """The platform login provider pointed at the loopback provider."""
    login = PlatformLogin(
        name="Loopback ID", issuer=provider.issuer, client_id="platform-client",
        client_secret="platform-secret", scopes=("openid", "email", "profile"),
    )  # fmt: skip
    provider.add_client(login.client_id, login.client_secret, f"{PUBLIC_URL}/login/platform/callback")
    runtime = app.extensions["gateway.oidc"]
    runtime.platform = PlatformDirectory(
        login, fetch_json, live_clock, outbound=OutboundPolicy(allow_private=True)
    )
    return login
