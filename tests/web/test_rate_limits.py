"""Abuse limits over HTTP: failed bearer tokens (SCIM, admin API), ``/login``, invitation tokens and the SAML
ACS are limited per client address and answered 429 with ``Retry-After`` in each protocol's own format. The
counters live in the real Redis on 127.0.0.1:6379 (a key prefix unique to this test), so two gateway
processes share them; the embedded default counts in process memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from gateway.app import create_app
from gateway.domain import model as m
from gateway.settings import load_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
CLI = m.Actor.cli()
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"gw-test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(storage: str, prefix: str, **rates: str) -> Flask:
        overrides = {
            "database_url": db_url,
            "instance_path": str(tmp_path / "instance"),
            "secret_key": "test-secret-key",
            "public_url": "http://gateway.test",
            "rate_limit_storage": storage,
            "rate_limit_prefix": prefix,
            **{f"rate_limit_{name}": rate for name, rate in rates.items()},
        }
        app = create_app(settings=load_settings(overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["gateway.services"].db.dispose()


def _retry_after(response) -> int:  # type: ignore[no-untyped-def]
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= 3600
    return value


def test_failed_scim_tokens_are_limited_with_a_scim_error(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    app = make_app(REDIS_URL, redis_prefix, bearer="3/hour")
    services = app.extensions["gateway.services"]
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI, domains=["acme.test"]).org
    good = services.credentials.create_scim_token(org.id, CLI).token
    client = app.test_client()
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    for _ in range(3):
        assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 429
    assert answer.mimetype == "application/scim+json"
    body = answer.get_json()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "429" and "Try again" in body["detail"]
    _retry_after(answer)
    # The address is locked out even with the right token: guessing cannot go on by telling 200 from 429.
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {good}"}).status_code == 429
    # Another address is not.
    other = client.get(
        "/scim/v2/Users",
        headers={"Authorization": f"Bearer {good}"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert other.status_code == 200


def test_failed_api_keys_are_limited_with_problem_json(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    app = make_app(REDIS_URL, redis_prefix, bearer="2/hour")
    client = app.test_client()
    for _ in range(2):
        assert client.get("/api/v1/org", headers={"Authorization": "Bearer gwa_nope"}).status_code == 401
    answer = client.get("/api/v1/org", headers={"Authorization": "Bearer gwa_nope"})
    assert answer.status_code == 429
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["type"] == "urn:gateway:problem:rate-limited" and body["status"] == 429
    _retry_after(answer)


def test_counters_are_shared_by_every_gateway_process(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    first = make_app(REDIS_URL, redis_prefix, bearer="2/hour").test_client()
    second = make_app(REDIS_URL, redis_prefix, bearer="2/hour").test_client()
    assert first.get("/api/v1/org", headers={"Authorization": "Bearer x"}).status_code == 401
    assert second.get("/api/v1/org", headers={"Authorization": "Bearer x"}).status_code == 401
    assert first.get("/api/v1/org", headers={"Authorization": "Bearer x"}).status_code == 429
    assert second.get("/api/v1/org", headers={"Authorization": "Bearer x"}).status_code == 429


def test_login_submissions_are_limited_with_an_html_page(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    client = make_app(REDIS_URL, redis_prefix, login="2/hour").test_client()
    for _ in range(2):
        assert client.post("/login", data={"email": "who@nowhere.test"}).status_code == 200
    answer = client.post("/login", data={"email": "who@nowhere.test"})
    assert answer.status_code == 429
    assert answer.mimetype == "text/html"
    assert "Too many attempts" in answer.get_data(as_text=True)
    _retry_after(answer)


def test_unknown_invitation_tokens_are_limited(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    client = make_app(REDIS_URL, redis_prefix, invitation="3/hour").test_client()
    for attempt in range(3):
        assert client.get(f"/invitations/accept?token=guess{attempt}").status_code == 404
    answer = client.get("/invitations/accept?token=guess-again")
    assert answer.status_code == 429
    assert "Too many attempts" in answer.get_data(as_text=True)
    _retry_after(answer)


def test_acs_posts_are_limited_before_any_xml_is_read(
    db: object, make_app: Callable[..., Flask], redis_prefix: str
) -> None:
    client = make_app(REDIS_URL, redis_prefix, acs="2/hour").test_client()
    for _ in range(2):
        assert client.post("/saml/nope/acs", data={"SAMLResponse": "x"}).status_code == 404
    answer = client.post("/saml/nope/acs", data={"SAMLResponse": "x"})
    assert answer.status_code == 429
    assert answer.mimetype == "text/html"
    _retry_after(answer)


def test_the_embedded_default_counts_in_memory(db: object, make_app: Callable[..., Flask]) -> None:
    client = make_app("memory://", "gateway", bearer="1/hour").test_client()
    assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer x"}).status_code == 401
    assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer x"}).status_code == 429


def test_an_empty_rate_turns_a_limit_off(db: object, make_app: Callable[..., Flask]) -> None:
    client = make_app("memory://", "gateway", login="").test_client()
    for _ in range(40):
        assert client.post("/login", data={"email": "who@nowhere.test"}).status_code == 200
