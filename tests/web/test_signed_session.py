"""Flask's signed-cookie session as the gateway configures it (``gateway.web.signed_session``): a request
without its cookie gets an empty session without the signing serializer being built, and one with the cookie
reads it as Flask does (a tampered cookie is ignored, a new value is signed and set)."""

from __future__ import annotations

from unittest import mock

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient

from gateway.web.signed_session import SignedSessionInterface


@pytest.fixture
def client() -> FlaskClient:
    app = Flask(__name__)
    app.secret_key = "signed-session-test-key"
    app.session_interface = SignedSessionInterface()

    @app.get("/read")
    def read() -> dict[str, object]:
        return {
            "seen": session.get("seen"),
            "new": session.new,
            "type": type(session._get_current_object()).__name__,
        }  # type: ignore[attr-defined]

    @app.post("/write")
    def write() -> dict[str, object]:
        session["seen"] = "yes"
        return {}

    return app.test_client()


def test_without_the_cookie_the_session_is_empty_and_no_serializer_is_built(client: FlaskClient) -> None:
    with mock.patch.object(
        SecureCookieSessionInterface, "get_signing_serializer", side_effect=AssertionError("built")
    ):
        answer = client.get("/read")
    assert answer.status_code == 200
    assert answer.get_json() == {"seen": None, "new": False, "type": "SecureCookieSession"}
    assert "Set-Cookie" not in answer.headers


def test_a_value_written_is_signed_into_the_cookie_and_read_back(client: FlaskClient) -> None:
    written = client.post("/write")
    assert "session=" in written.headers["Set-Cookie"]
    assert client.get("/read").get_json()["seen"] == "yes"


def test_a_tampered_cookie_is_ignored(client: FlaskClient) -> None:
    client.post("/write")
    cookie = client.get_cookie("session")
    assert cookie is not None
    client.set_cookie("session", cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB"))
    assert client.get("/read").get_json()["seen"] is None


def test_the_gateway_uses_it(app: Flask) -> None:
    assert isinstance(app.session_interface, SignedSessionInterface)
