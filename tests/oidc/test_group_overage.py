"""Entra ID group overage over OIDC: an ID token whose groups claim is distributed (``_claim_names`` /
``_claim_sources``, OpenID Connect Core 5.6.2) never demotes on the missing claim. The gateway fetches the
groups from the endpoint the claim names (a Graph ``getMemberObjects``-style POST on loopback) with an app
token obtained with the connection's client credentials; when that fails the member keeps their role and the
sign-in's audit event says why."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from gateway.services import Services

from .conftest import CLI, add_oidc_tenant
from .peer import Browser, OpenIdProvider

ADMINS = "5f2d4c1e-0000-4000-8000-00000000a11d"


class Graph(http.server.BaseHTTPRequestHandler):
    groups: list[str] = []
    status = 200
    calls: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        Graph.calls.append({"path": self.path, "auth": self.headers.get("Authorization", ""), "body": body})
        data = json.dumps({"value": Graph.groups}).encode()
        self.send_response(Graph.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def graph() -> Iterator[str]:
    Graph.groups, Graph.status, Graph.calls = [], 200, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Graph)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1.0/users/ada-oid/getMemberObjects"
    server.shutdown()
    thread.join(timeout=5)


def overage_claims(endpoint: str) -> dict:
    return {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": endpoint}}}


@pytest.fixture
def entra_like(app: Flask, provider: OpenIdProvider, live_clock, app_services: Services):  # type: ignore[no-untyped-def]
    tenant = add_oidc_tenant(
        app, provider, slug="contoso", domain="contoso.test", preset="okta", admin_groups=[ADMINS]
    )
    app_services.members.add_admin(tenant.org.id, "owner@contoso.test", CLI)
    app_services.members.add_admin(tenant.org.id, "ada@contoso.test", CLI)
    return tenant


def _role(browser: Browser) -> str:
    return browser.gateway.get("/me").get_json()["role"]


def test_overage_groups_are_fetched_from_the_named_endpoint(
    entra_like, provider: OpenIdProvider, browser: Browser, graph: str
) -> None:  # type: ignore[no-untyped-def]
    Graph.groups = ["some-group", ADMINS]
    provider.set_accounts({"ada@contoso.test": overage_claims(graph)})
    assert browser.sign_in(entra_like.login_path, "ada@contoso.test").status_code == 303
    assert _role(browser) == "admin"
    assert len(Graph.calls) == 1
    assert Graph.calls[0]["auth"].startswith("Bearer ") and Graph.calls[0]["body"] == {
        "securityEnabledOnly": False
    }
    # The full list without the admin group demotes, as the mapping says.
    Graph.groups = ["some-group"]
    second = Browser(browser.gateway.application.test_client())
    assert second.sign_in(entra_like.login_path, "ada@contoso.test").status_code == 303
    assert _role(second) == "member"


def test_an_unresolvable_overage_keeps_the_role_and_says_why(
    entra_like, provider: OpenIdProvider, browser: Browser, graph: str, app_services: Services
) -> None:  # type: ignore[no-untyped-def]
    Graph.status = 503
    provider.set_accounts({"ada@contoso.test": overage_claims(graph)})
    assert browser.sign_in(entra_like.login_path, "ada@contoso.test").status_code == 303
    assert _role(browser) == "admin"
    events, _ = app_services.audit.list(entra_like.org.id, action="sign_in.succeeded")
    assert events[0].details["role_kept"] == "groups_overage"
    assert events[0].details["role_kept_detail"] == "groups_answer_invalid"
