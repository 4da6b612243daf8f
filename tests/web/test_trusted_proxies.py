"""``GATEWAY_TRUSTED_PROXIES``: the client address in audit and logs comes from X-Forwarded-For only through
the configured number of trusted hops; unset, the header changes nothing."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.domain import model as m
from gateway.services import Services
from gateway.settings import SettingsError, load_settings

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.com"}


def _scim_create_ip(
    app: Flask, services: Services, forwarded: str, caplog: pytest.LogCaptureFixture
) -> tuple:
    org = services.orgs.create("Acme", m.MembershipMode.SSO, m.Actor.cli()).org
    token = services.credentials.create_scim_token(org.id, m.Actor.cli()).token
    with caplog.at_level(logging.INFO, logger="gateway.http"):
        response = app.test_client().post(
            "/scim/v2/Users",
            json=USER,
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
    assert response.status_code == 201, response.get_data(as_text=True)
    events, _ = services.audit.list(org.id)
    created = [e for e in events if e.actor_type is m.ActorType.SCIM_TOKEN]
    logged = [r.client_ip for r in caplog.records if getattr(r, "path", None) == "/scim/v2/Users"]
    return {e.ip for e in created}, logged


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(
    app: Flask, app_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    ips, logged = _scim_create_ip(app, app_services, "203.0.113.9", caplog)
    assert ips == {"10.0.0.2"}
    assert logged == ["10.0.0.2"]


def test_one_trusted_hop_takes_the_address_that_proxy_saw(
    app: Flask, app_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    settings = dataclasses.replace(app.extensions["gateway.settings"], trusted_proxies=1)
    behind = create_app(settings=settings)
    services = behind.extensions["gateway.services"]
    # The client forged the first entry; the trusted proxy appended the address it really saw.
    ips, logged = _scim_create_ip(behind, services, "198.51.100.66, 203.0.113.9", caplog)
    assert ips == {"203.0.113.9"}
    assert logged == ["203.0.113.9"]
    services.db.dispose()


def test_a_negative_hop_count_is_refused() -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings({"trusted_proxies": -1, "secret_key": "k"}, environ={})
