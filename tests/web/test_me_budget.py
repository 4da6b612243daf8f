"""``/me`` is asked on every page load of the platform: one read transaction, two statements (the session with
its member and organization, then the member's projects); the idle timer is written at most once a minute, in a
short transaction of its own."""

from __future__ import annotations

from flask.testing import FlaskClient
from statement_counter import count_statements

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME

CLI = m.Actor.cli()


def test_me_costs_one_read_and_two_statements(client: FlaskClient, app_services: Services, clock) -> None:  # type: ignore[no-untyped-def]
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    member = app_services.members.add_admin(org.id, "ada@acme.test", CLI)
    _, token = app_services.sessions.start(org.id, member.id, CLI)
    client.set_cookie(COOKIE_NAME, token)
    assert client.get("/me").status_code == 200

    with count_statements(app_services.db.engine) as counted:
        response = client.get("/me")
    assert response.status_code == 200 and response.get_json()["email"] == "ada@acme.test"
    counted.within(statements=2, transactions=1)

    clock.advance(minutes=2)
    with count_statements(app_services.db.engine) as counted:
        assert client.get("/me").status_code == 200
    counted.within(statements=3, transactions=2)
