"""Logout everywhere with npm's oidc-provider (issue 13): RP-initiated logout sends ``/logout`` on to the
provider's end-session endpoint and back; back-channel logout lets the provider end the gateway's sessions."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from flask import Flask
from signout import sign_out
from werkzeug.serving import make_server

from gateway.services import Services

from .conftest import PUBLIC_URL, Tenant
from .peer import Browser, OpenIdProvider

_XSRF = re.compile(r'name="xsrf" value="([^"]+)"')
_ACTION = re.compile(r'<form id="op.logoutForm" method="post" action="([^"]+)"')


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The same app on a loopback port, for the provider's back-channel requests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _register(provider: OpenIdProvider, tenant: Tenant, **metadata: object) -> None:
    for client in provider.clients:
        if client["client_id"] == tenant.client_id:
            client.update(metadata)
    provider._post("/__test/config", {"clients": provider.clients})


def _end_at_provider(browser: Browser, url: str) -> str:
    """Open the provider's end-session page and confirm "Yes, sign me out"; returns where it redirects."""
    page = browser.provider.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:500]
    action = urljoin(url, _ACTION.search(page.text).group(1))  # type: ignore[union-attr]
    xsrf = _XSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = browser.provider.post(
        action, data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False, timeout=10
    )
    assert done.status_code in (302, 303), done.text[:500]
    return urljoin(action, done.headers["Location"])


def test_logout_ends_the_session_at_the_provider_too(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider, app_services: Services
) -> None:
    back = f"{PUBLIC_URL}/oidc/{tenant.connection.slug}/logged-out"
    _register(provider, tenant, post_logout_redirect_uris=[back])
    assert browser.sign_in(tenant.login_path, "alice@acme.test").status_code == 303
    assert browser.gateway.get("/me").status_code == 200

    response = sign_out(browser.gateway)
    assert response.status_code == 303
    target = response.headers["Location"]
    endpoint = tenant.connection.config["metadata"]["end_session_endpoint"]
    assert endpoint and target.startswith(endpoint + "?")
    params = parse_qs(urlsplit(target).query)
    assert params["client_id"] == [tenant.client_id] and params["post_logout_redirect_uri"] == [back]
    assert browser.gateway.get("/me").status_code == 401  # the gateway's session ended first

    returned = _end_at_provider(browser, target)
    assert returned.startswith(back)
    parts = urlsplit(returned)
    final = browser.gateway.get(f"{parts.path}?{parts.query}")
    assert final.status_code == 303 and final.headers["Location"] == "/login"
    # Signed out at the provider as well: the next sign-in asks who is signing in again.
    browser.start(tenant.login_path)
    first = browser.provider.get(browser.authorize_url, allow_redirects=False, timeout=10)
    assert "/interaction/" in first.headers.get("Location", "")


def test_the_provider_ends_the_gateway_session_over_the_back_channel(
    tenant: Tenant, browser: Browser, provider: OpenIdProvider, app_services: Services, live_url: str
) -> None:
    _register(
        provider, tenant,
        backchannel_logout_uri=f"{live_url}/oidc/{tenant.connection.slug}/backchannel-logout",
        backchannel_logout_session_required=True,
    )  # fmt: skip
    assert browser.sign_in(tenant.login_path, "alice@acme.test").status_code == 303
    other = Browser(browser.gateway.application.test_client())
    assert other.sign_in(tenant.login_path, "bob@acme.test").status_code == 303
    assert browser.gateway.get("/me").status_code == 200

    # alice signs out at the provider (from another application): the provider tells the gateway.
    endpoint = tenant.connection.config["metadata"]["end_session_endpoint"]
    _end_at_provider(browser, f"{endpoint}?client_id={tenant.client_id}")
    assert browser.gateway.get("/me").status_code == 401
    assert other.gateway.get("/me").status_code == 200  # bob's provider session is another one
    audited = app_services.audit.list(tenant.org.id, action="session.backchannel_logout")[0]
    assert audited and audited[0].details["sessions"] == 1


def test_a_forged_logout_token_is_refused(tenant: Tenant, browser: Browser, client) -> None:  # type: ignore[no-untyped-def]
    assert browser.sign_in(tenant.login_path, "alice@acme.test").status_code == 303
    url = f"/oidc/{tenant.connection.slug}/backchannel-logout"
    for token in ("", "not.a.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZUBhY21lLnRlc3QifQ."):
        refused = client.post(url, data={"logout_token": token})
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request"
    assert browser.gateway.get("/me").status_code == 200
