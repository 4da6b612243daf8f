"""Fixtures for the admin API tests: ``make_tenant`` and ``tenant`` (see ``api_helpers``), and ``peer``, one
loopback HTTP server per test session for IdP metadata, OIDC discovery and webhook deliveries (``api_peers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_helpers import CLI, Tenant
from api_peers import Peer, start_peer
from flask import Flask, Response
from openapi_check import OpenApiChecker

from gateway.domain import model as m
from gateway.services import Services


@pytest.fixture
def make_tenant(app_services: Services) -> Callable[..., Tenant]:
    def make(
        name: str = "Acme", mode: m.MembershipMode = m.MembershipMode.INVITATION, domain: str | None = None
    ) -> Tenant:
        view = app_services.orgs.create(name, mode, CLI, domains=[domain] if domain else ())
        admin = app_services.members.add_admin(view.org.id, f"admin@{view.org.slug}.test", CLI)
        key = app_services.credentials.create_admin_key(view.org.id, CLI, "test admin key")
        return Tenant(view.org.id, view.org.slug, view.default_project.id, admin, key.token)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant()


@pytest.fixture(scope="session")
def loopback_peer() -> Iterator[Peer]:
    peer, thread = start_peer()
    yield peer
    peer.server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def peer(loopback_peer: Peer) -> Peer:
    loopback_peer.hook_status = 200
    loopback_peer.hooks.clear()
    return loopback_peer


@pytest.fixture(autouse=True)
def responses_match_the_openapi_document(app: Flask) -> Iterator[None]:
    """Every admin API response a test sees must be one the OpenAPI document describes."""
    from flask import request, request_finished

    checker = OpenApiChecker(app.test_client().get("/api/v1/openapi.json").get_json())
    found: list[str] = []

    def check(_sender: Flask, response: Response, **_: object) -> None:
        if not request.path.startswith("/api/v1/") or request.url_rule is None:
            return
        body = response.get_json(silent=True) if response.is_json else response.get_data() or None
        found.extend(
            checker.problems(
                request.method, request.url_rule.rule, response.status_code, response.mimetype, body
            )
        )

    request_finished.connect(check, app)
    yield
    request_finished.disconnect(check, app)
    assert found == [], "\n".join(found)
