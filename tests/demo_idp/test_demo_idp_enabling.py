"""The demo IdP exists only when asked for, in development; its signing key is made once per instance."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.demo_idp import init_demo_idp
from gateway.demo_idp.keys import KEY_FILE
from gateway.services.demo_saml import KEY_FILE as SAML_KEY_FILE
from gateway.settings import SettingsError, load_settings

from .conftest import demo_app

DISCOVERY = "/demo-idp/.well-known/openid-configuration"
SAML_PATHS = ("/demo-idp/saml/metadata", "/demo-idp/saml/sso?SAMLRequest=x")


def test_without_the_flag_there_is_no_demo_idp(app: Flask) -> None:
    init_demo_idp(app)
    assert "demo_idp" not in app.blueprints
    for path in (DISCOVERY, "/demo-idp/authorize", "/demo-idp/jwks", *SAML_PATHS):
        assert app.test_client().get(path).status_code == 404
    assert app.test_client().post("/demo-idp/token").status_code == 404
    assert app.test_client().post("/demo-idp/saml/sso", data={"action": "confirm"}).status_code == 404


def test_production_settings_refuse_the_flag() -> None:
    with pytest.raises(SettingsError, match="cannot be enabled in production"):
        load_settings(
            {"env": "production", "demo_idp": 1, "public_url": "https://id.example.com", "secret_key": "k"},
            environ={},
        )


def test_a_production_app_never_registers_it_even_from_hand_built_settings(
    db_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        {"database_url": db_url, "instance_path": str(tmp_path), "secret_key": "k", "demo_idp": 1}, environ={}
    )
    application = create_app(settings=dataclasses.replace(settings, env="production"))
    init_demo_idp(application)
    assert "demo_idp" not in application.blueprints
    for path in (DISCOVERY, *SAML_PATHS):
        assert application.test_client().get(path).status_code == 404
    assert application.test_client().post("/demo-idp/saml/sso").status_code == 404
    assert not (tmp_path / KEY_FILE).exists() and not (tmp_path / SAML_KEY_FILE).exists()
    application.extensions["gateway.services"].db.dispose()


def test_the_signing_key_is_generated_once_into_the_instance_folder(
    db_url: str, tmp_path: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    first = demo_app(db_url, tmp_path, clock)
    second = demo_app(db_url, tmp_path, clock)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kids = [a.test_client().get("/demo-idp/jwks").get_json()["keys"][0]["kid"] for a in (first, second)]
    assert kids[0] == kids[1]
    saml_path = tmp_path / SAML_KEY_FILE
    assert stat.S_IMODE(saml_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in saml_path.read_bytes() and b"CERTIFICATE" in saml_path.read_bytes()
    metadata = [a.test_client().get("/demo-idp/saml/metadata").data for a in (first, second)]
    assert metadata[0] == metadata[1]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".demo-idp")] == []
    init_demo_idp(first)  # registering twice is a no-op, not an error
    for application in (first, second):
        application.extensions["gateway.services"].db.dispose()
