"""SAML test fixtures: an organization with a SAML connection and the independent test IdP that serves it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, FakeClock, SamlSetup, SpKeyPool, add_saml_connection, real_now

from gateway.domain import model as m
from gateway.services import Services
from gateway.services import saml_connections as saml_connections_module


@pytest.fixture
def clock() -> FakeClock:
    """The gateway's clock starts at the real time: the test IdP (pysaml2) and python3-saml read the wall
    clock, the gateway's own checks read this one, so tests can move it past an assertion's lifetime."""
    return FakeClock(real_now())


@pytest.fixture(scope="session")
def sp_key_pool() -> SpKeyPool:
    return SpKeyPool()


@pytest.fixture(autouse=True)
def pooled_sp_keys(
    request: pytest.FixtureRequest, sp_key_pool: SpKeyPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reuse pre-generated SP keys (see ``SpKeyPool``), except in the module that tests key generation."""
    if request.module.__name__ == "test_saml_connections":
        return
    sp_key_pool.next = 0
    monkeypatch.setattr(saml_connections_module, "generate_sp_key", sp_key_pool)


@pytest.fixture
def acme(app_services: Services) -> m.Organization:
    return app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, domains=["acme.test"]).org


@pytest.fixture
def okta(app: Flask, client: FlaskClient, acme: m.Organization) -> SamlSetup:
    return add_saml_connection(app, client, acme)
