"""Headers and small holes: security headers on every page, sign-out only by a confirmed POST, /metrics
protected in production, chunked bodies over the limit refused, and hostile JSON answered 400 in each
protocol's own format (never a 500)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.domain import model as m
from gateway.services import Services
from gateway.settings import load_settings
from gateway.web.account import logout_token
from tests.signout import sign_out

CLI = m.Actor.cli()
SCIM = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture
def acme(app_services: Services) -> m.Organization:
    return app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, domains=["acme.test"]).org


@pytest.fixture
def scim_headers(app_services: Services, acme: m.Organization) -> dict[str, str]:
    token = app_services.credentials.create_scim_token(acme.id, CLI).token
    return {"Authorization": f"Bearer {token}", "Content-Type": SCIM}


@pytest.fixture
def api_headers(app_services: Services, acme: m.Organization) -> dict[str, str]:
    key = app_services.credentials.create_admin_key(acme.id, CLI).token
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


@pytest.fixture
def production_app(db: object, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides: str) -> Flask:
        settings = load_settings(
            {
                "database_url": db_url,
                "instance_path": str(tmp_path / "prod-instance"),
                "secret_key": "test-secret-key",
                "public_url": "https://gateway.test",
                "env": "production",
                **overrides,
            }
        )
        app = create_app(settings=settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["gateway.services"].db.dispose()


def _scim_error(answer, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == SCIM
    body = answer.get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == str(
        status
    )
    return body


def _problem(answer, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    return answer.get_json()


# -- security headers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/login", "/healthz", "/me", "/scim/v2/Users", "/api/v1/org", "/saml/x/login"]
)
def test_every_page_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # development, plain http


def test_a_header_the_page_set_itself_is_kept_once(app: Flask) -> None:
    @app.get("/own-headers")
    def own_headers() -> Response:
        answer = Response("ok")
        answer.headers["x-frame-options"] = "SAMEORIGIN"
        answer.headers["Content-Security-Policy"] = "img-src 'self'"
        return answer

    headers = app.test_client().get("/own-headers").headers
    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getlist("Content-Security-Policy") == ["img-src 'self'; frame-ancestors 'none'"]
    assert headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_the_console_keeps_its_own_stricter_policy(client: FlaskClient) -> None:
    policy = client.get("/admin/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_production_adds_hsts(production_app: Callable[..., Flask]) -> None:
    headers = production_app().test_client().get("/login").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")


# -- sign-out -------------------------------------------------------------------------------------------------
def _signed_in(client: FlaskClient, app_services: Services, acme: m.Organization) -> str:
    member = app_services.members.add_admin(acme.id, "ada@acme.test", CLI)
    _, token = app_services.sessions.start(acme.id, member.id, CLI)
    client.set_cookie("gw_session", token)
    return token


def test_a_get_of_logout_only_asks_for_confirmation(
    client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    _signed_in(client, app_services, acme)
    page = client.get("/logout")
    assert page.status_code == 200
    assert '<form method="post"' in page.get_data(as_text=True)
    assert client.get("/me").status_code == 200  # a link or an <img src=/logout> signs nobody out


def test_a_post_without_the_csrf_token_signs_nobody_out(
    client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    _signed_in(client, app_services, acme)
    answer = client.post("/logout", data={"logout_token": "forged"})
    assert answer.status_code == 400
    assert "logout_csrf" in answer.get_data(as_text=True)
    assert client.get("/me").status_code == 200
    assert sign_out(client).status_code == 303
    assert client.get("/me").status_code == 401


def test_the_console_sign_out_button_carries_the_token(
    client: FlaskClient, app_services: Services, acme: m.Organization
) -> None:
    token = _signed_in(client, app_services, acme)
    page = client.get("/admin/").get_data(as_text=True)
    with client.application.test_request_context():
        expected = logout_token(token)
    assert f'name="logout_token" value="{expected}"' in page
    assert client.post("/logout", data={"logout_token": expected}).status_code == 303
    assert client.get("/me").status_code == 401


# -- /metrics -----------------------------------------------------------------------------------------------
def test_metrics_in_production_need_the_token_or_an_allowed_address(
    production_app: Callable[..., Flask],
) -> None:
    closed = production_app().test_client()
    assert closed.get("/metrics").status_code == 403
    with_token = production_app(metrics_token="m" * 32).test_client()
    assert with_token.get("/metrics").status_code == 403
    assert with_token.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert with_token.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).status_code == 200
    by_address = production_app(metrics_allowed_addresses="10.0.0.0/8, 127.0.0.1").test_client()
    assert by_address.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert by_address.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403


def test_metrics_in_development_stay_open(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 200


# -- request bodies -------------------------------------------------------------------------------------------
def _chunked(client: FlaskClient, path: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_a_413_not_a_truncated_parse(
    client: FlaskClient, scim_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    padding = b" " * (2 * 1024 * 1024)
    user = json.dumps({"schemas": [USER_URN], "userName": "big@acme.test"}).encode()
    _scim_error(_chunked(client, "/scim/v2/Users", user + padding, scim_headers), 413)
    invitation = json.dumps({"email": "big@acme.test"}).encode()
    _problem(_chunked(client, "/api/v1/invitations", invitation + padding, api_headers), 413)
    # Within the limit, a chunked body is read whole.
    answer = _chunked(client, "/scim/v2/Users", user, scim_headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)


def test_deeply_nested_json_is_a_400(
    client: FlaskClient, scim_headers: dict[str, str], api_headers: dict[str, str]
) -> None:
    assert _scim_error(client.post("/scim/v2/Users", data=DEEP, headers=scim_headers), 400)["scimType"] == (
        "invalidSyntax"
    )
    _problem(client.post("/api/v1/invitations", data=DEEP, headers=api_headers), 400)


@pytest.mark.parametrize("schemas", [USER_URN, 5, {"urn": USER_URN}, [5]])
def test_a_non_list_schemas_is_a_400(
    client: FlaskClient, scim_headers: dict[str, str], schemas: object
) -> None:
    body = json.dumps({"schemas": schemas, "userName": "ada@acme.test"})
    _scim_error(client.post("/scim/v2/Users", data=body, headers=scim_headers), 400)


def test_a_non_string_bulk_version_is_a_400_operation(
    client: FlaskClient, scim_headers: dict[str, str]
) -> None:
    body = {
        "schemas": [BULK_URN],
        "Operations": [
            {
                "method": "PUT",
                "path": "/Users/x",
                "version": 5,
                "data": {"schemas": [USER_URN], "userName": "b@acme.test"},
            }
        ],
    }
    answer = client.post("/scim/v2/Bulk", data=json.dumps(body), headers=scim_headers)
    assert answer.status_code == 200
    operation = answer.get_json()["Operations"][0]
    assert operation["status"] == "400"
    assert operation["response"]["scimType"] == "invalidSyntax"


@pytest.mark.parametrize(
    "query",
    [
        "/Users?startIndex=99999999999999999999999999",
        "/Users?startIndex=-99999999999999999999999999",
        "/Users?count=99999999999999999999999999",
        "/Groups?startIndex=99999999999999999999999999",
    ],
)
def test_huge_paging_values_are_400s(client: FlaskClient, scim_headers: dict[str, str], query: str) -> None:
    _scim_error(client.get("/scim/v2" + query, headers=scim_headers), 400)


@pytest.mark.parametrize("field", ["startIndex", "count"])
def test_huge_search_paging_values_are_400s(
    client: FlaskClient, scim_headers: dict[str, str], field: str
) -> None:
    body = json.dumps({"schemas": [SEARCH_URN], field: 10**30})
    _scim_error(client.post("/scim/v2/Users/.search", data=body, headers=scim_headers), 400)


def test_a_huge_event_cursor_is_a_400(client: FlaskClient, api_headers: dict[str, str]) -> None:
    _problem(client.get("/api/v1/events?after=99999999999999999999999999", headers=api_headers), 400)
