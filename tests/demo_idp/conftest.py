"""Fixtures of the demo IdP tests: the gateway with ``GATEWAY_DEMO_IDP=1`` (both backends), a signing key
shared by the session (RSA generation is the slow part), and a small OAuth client that speaks to it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.app import create_app
from gateway.demo_idp import init_demo_idp
from gateway.services.demo_directory import client_secret
from gateway.settings import load_settings

PUBLIC_URL = "http://gateway.test"
SECRET_KEY = "demo-idp-test-secret"
CLIENT_ID = "demo-company-sso"
REDIRECT_URI = f"{PUBLIC_URL}/oidc/demo-idp/callback"


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-idp-instance")


def demo_app(db_url: str, instance: Path, clock: object, **overrides: object) -> Flask:
    settings = load_settings(
        {
            "database_url": db_url,
            "instance_path": str(instance),
            "secret_key": SECRET_KEY,
            "public_url": PUBLIC_URL,
            "demo_idp": 1,
            **overrides,
        }
    )
    application = create_app(settings=settings, clock=clock)  # type: ignore[arg-type]
    init_demo_idp(application)  # a no-op once create_app registers the demo IdP itself
    application.config["TESTING"] = True
    return application


@pytest.fixture
def idp_app(db, db_url: str, clock, demo_instance: Path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    application = demo_app(db_url, demo_instance, clock)
    yield application
    application.extensions["gateway.services"].db.dispose()


@pytest.fixture
def idp(idp_app: Flask) -> FlaskClient:
    return idp_app.test_client()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def query_of(response: TestResponse) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


@dataclass
class Client:
    """A relying party of the demo IdP, driving it the way the gateway's OIDC adapter does."""

    http: FlaskClient
    client_id: str = CLIENT_ID
    redirect_uri: str = REDIRECT_URI
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def secret(self) -> str:
        return client_secret(SECRET_KEY, self.client_id)

    def authorization_params(self, **changes: str | None) -> dict[str, str]:
        params = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": "openid email profile", "state": self.state, "nonce": self.nonce,
            "code_challenge": s256(self.verifier), "code_challenge_method": "S256",
        }  # fmt: skip
        params.update(changes)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, **changes: str | None) -> TestResponse:
        return self.http.get("/demo-idp/authorize", query_string=self.authorization_params(**changes))

    def confirm(
        self, email: str = "admin@demo.example", *, typed: bool = False, action: str = "confirm"
    ) -> TestResponse:
        form = {**self.authorization_params(), "action": action, ("email" if typed else "person"): email}
        return self.http.post("/demo-idp/authorize", data=form)

    def code(self, email: str = "admin@demo.example") -> str:
        response = self.confirm(email)
        assert response.status_code == 303, response.get_data(as_text=True)
        params = query_of(response)
        assert params["state"] == self.state
        return params["code"]

    def exchange(self, code: str, **changes: str | None) -> TestResponse:
        form = {
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
        }  # fmt: skip
        form.update({k: v for k, v in changes.items() if v is not None})
        for key in [k for k, v in changes.items() if v is None]:
            form.pop(key, None)
        return self.http.post("/demo-idp/token", data=form, auth=(self.client_id, self.secret))


@pytest.fixture
def rp(idp: FlaskClient) -> Client:
    return Client(idp)
