"""With the database away, every protocol answers 503 with ``Retry-After`` in its own format (SCIM error,
problem JSON, a page that says to try again, JSON for /me), and /readyz says it is not ready.

The database is really unreachable here: a PostgreSQL port nobody listens on (connection refused), or an
SQLite path that cannot be opened (a directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.settings import load_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def away(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlaskClient]:
    if request.param == "sqlite":
        unopenable = tmp_path / "a-directory"
        unopenable.mkdir()
        url = f"sqlite:///{unopenable}"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:9/gateway?connect_timeout=2"
    settings = load_settings(
        {
            "database_url": url,
            "instance_path": str(tmp_path / "instance"),
            "secret_key": "test-secret-key",
            "public_url": "http://gateway.test",
        }
    )
    app: Flask = create_app(settings=settings)
    app.config["TESTING"] = True
    client = app.test_client()
    client.set_cookie("gw_session", "a-session-token")
    yield client
    app.extensions["gateway.services"].db.dispose()


def _retry_after(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0


def test_scim_answers_a_scim_error_with_retry_after(away: FlaskClient) -> None:
    response = away.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@acme.com"},
        headers={"Authorization": "Bearer scim_whatever"},
    )
    _retry_after(response)
    assert response.mimetype == "application/scim+json"
    assert response.json["status"] == "503"
    assert response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_admin_api_answers_problem_json_with_retry_after(away: FlaskClient) -> None:
    response = away.get("/api/v1/org", headers={"Authorization": "Bearer key_whatever"})
    _retry_after(response)
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 503
    assert response.json["type"] == "urn:gateway:problem:unavailable"


def test_login_answers_a_page_that_says_to_try_again(away: FlaskClient) -> None:
    response = away.post("/login", data={"email": "ada@acme.com"})
    _retry_after(response)
    assert response.mimetype == "text/html"
    assert "Try again" in response.get_data(as_text=True)


def test_me_answers_json(away: FlaskClient) -> None:
    response = away.get("/me")
    _retry_after(response)
    assert response.json["error"] == "unavailable"


@pytest.mark.parametrize("path", ["/saml/acme/metadata", "/saml/acme/login", "/oidc/acme/login", "/admin/"])
def test_sso_and_console_answer_a_page(away: FlaskClient, path: str) -> None:
    response = away.get(path)
    _retry_after(response)
    assert response.mimetype == "text/html"


def test_readyz_is_not_ready(away: FlaskClient) -> None:
    response = away.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unreachable"
