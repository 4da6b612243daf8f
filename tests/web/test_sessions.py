"""Sessions through HTTP: server-side, revocable, idle and absolute timeouts, ended by logout, by removal
and by suspension at once. (Sign-in rotation and cookie flags are covered with a real sign-in in
tests/oidc/test_sessions_at_sign_in.py.)"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from tests.signout import sign_out

CLI = m.Actor.cli()


@pytest.fixture
def member(app_services: Services) -> m.Member:
    org = app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI, slug="acme").org
    app_services.members.add_admin(org.id, "root@acme.test", CLI)
    return app_services.members.add_admin(org.id, "ann@acme.test", CLI)


def signed_in(app: Flask, services: Services, member: m.Member) -> tuple[FlaskClient, str]:
    _, token = services.sessions.start(member.org_id, member.id, CLI)
    client = app.test_client()
    client.set_cookie("gw_session", token)
    return client, token


def test_me_returns_the_signed_in_member(app: Flask, app_services: Services, member: m.Member) -> None:
    client, _ = signed_in(app, app_services, member)
    body = client.get("/me").get_json()
    assert body["email"] == "ann@acme.test" and body["role"] == "admin"
    assert body["organization"]["slug"] == "acme"


@pytest.mark.parametrize("cookie", [None, "", "gws_forged", "x" * 3000])
def test_me_without_a_valid_session_is_401(client: FlaskClient, cookie: str | None) -> None:
    if cookie is not None:
        client.set_cookie("gw_session", cookie)
    response = client.get("/me")
    assert response.status_code == 401 and response.get_json()["error"] == "not_signed_in"


def test_idle_timeout_ends_the_session(app: Flask, app_services: Services, member: m.Member, clock) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed_in(app, app_services, member)
    clock.advance(minutes=479)
    assert client.get("/me").status_code == 200
    clock.advance(minutes=479)
    assert client.get("/me").status_code == 200, "activity resets the idle timer"
    clock.advance(minutes=481)
    assert client.get("/me").status_code == 401


def test_absolute_timeout_ends_an_active_session(
    app: Flask, app_services: Services, member: m.Member, clock
) -> None:  # type: ignore[no-untyped-def]
    client, _ = signed_in(app, app_services, member)
    for _ in range(4):
        clock.advance(hours=5, minutes=50)
        assert client.get("/me").status_code == 200
    clock.advance(minutes=41)  # 24 h and 1 min after sign-in, 41 min after the last request
    assert client.get("/me").status_code == 401


def test_logout_revokes_the_session_server_side(app: Flask, app_services: Services, member: m.Member) -> None:
    client, token = signed_in(app, app_services, member)
    response = sign_out(client)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "gw_session=;" in " ".join(response.headers.getlist("Set-Cookie"))
    replay = app.test_client()
    replay.set_cookie("gw_session", token)
    assert replay.get("/me").status_code == 401


def test_logout_keeps_next_on_the_gateway(app: Flask, app_services: Services, member: m.Member) -> None:
    client, _ = signed_in(app, app_services, member)
    assert sign_out(client, "//evil.example").headers["Location"] == "/login"


def test_removal_ends_every_session_of_the_member_at_once(
    app: Flask, app_services: Services, member: m.Member
) -> None:
    laptop, _ = signed_in(app, app_services, member)
    phone, _ = signed_in(app, app_services, member)
    assert laptop.get("/me").status_code == phone.get("/me").status_code == 200

    app_services.members.remove(member.org_id, member.id, CLI)

    assert laptop.get("/me").status_code == 401
    assert phone.get("/me").status_code == 401


def test_suspension_ends_sessions_and_restoring_does_not_revive_them(
    app: Flask, app_services: Services, member: m.Member
) -> None:
    client, _ = signed_in(app, app_services, member)
    app_services.members.suspend(member.org_id, member.id, CLI)
    assert client.get("/me").status_code == 401
    app_services.members.restore(member.org_id, member.id, CLI)
    assert client.get("/me").status_code == 401


def test_sessions_of_other_members_survive_a_removal(
    app: Flask, app_services: Services, member: m.Member
) -> None:
    other = app_services.members.list(member.org_id, query="root")[0][0]
    client, _ = signed_in(app, app_services, other)
    app_services.members.remove(member.org_id, member.id, CLI)
    assert client.get("/me").status_code == 200
