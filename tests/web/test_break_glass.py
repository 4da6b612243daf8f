"""Break-glass sign-in (issue 13): ``gateway admin break-glass ORG EMAIL`` prints a one-time, short-lived link
that signs a locked-out Admin in without the identity provider; audited, Admins only, single use."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services
from tests.conftest import FakeClock

_load_commands()
CLI = m.Actor.cli()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def _locked_out(services: Services) -> m.Organization:
    """An SSO-mode organization whose only connection was disabled (the IdP is broken)."""
    org = services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI, domains=["acme.test"]).org
    connection = services.connections.add(org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    services.mode.apply(org.id, m.MembershipMode.SSO, CLI)
    services.connections.set_enabled(org.id, connection.id, False, CLI, override=True)
    services.members.add_admin(org.id, "root@acme.test", CLI)
    return org


def _link(app: Flask, email: str = "root@acme.test", *extra: str) -> str:
    result = run(app, "admin", "break-glass", "acme", email, "--json", *extra)
    assert result.exit_code == 0, result.output
    url = json.loads(result.output)["url"]
    assert url.startswith("http://gateway.test/break-glass?token=")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _use(client: FlaskClient, link: str):  # type: ignore[no-untyped-def]
    page = client.get(link)
    assert page.status_code == 200 and "Sign in as Admin" in page.get_data(as_text=True)
    token = link.split("token=", 1)[1]
    return client.post("/break-glass", data={"token": token})


def test_a_locked_out_admin_signs_in_once_with_the_link(
    app: Flask, client: FlaskClient, app_services: Services
) -> None:
    org = _locked_out(app_services)
    link = _link(app)
    assert client.get("/me").status_code == 401
    client.get(link)
    assert client.get("/me").status_code == 401  # opening the link does not use it
    response = _use(client, link)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert client.get("/me").get_json()["email"] == "root@acme.test"
    assert client.get("/admin/").status_code == 200

    again = _use(app.test_client(), link)
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    actions = [e.action for e in app_services.audit.list(org.id, limit=50)[0]]
    assert "break_glass.issued" in actions and "break_glass.used" in actions
    assert link.split("token=")[1] not in json.dumps([e.details for e in app_services.audit.list(org.id)[0]])


def test_the_link_expires(app: Flask, client: FlaskClient, app_services: Services, clock: FakeClock) -> None:
    _locked_out(app_services)
    link = _link(app, "root@acme.test", "--minutes", "5")
    clock.advance(minutes=6)
    response = _use(client, link)
    assert response.status_code == 403 and "expired" in response.get_data(as_text=True)
    assert client.get("/me").status_code == 401


def test_only_admins_get_a_link_and_a_new_link_kills_the_old(
    app: Flask, client: FlaskClient, app_services: Services
) -> None:
    org = _locked_out(app_services)
    member = app_services.members.add_admin(org.id, "bea@acme.test", CLI)
    app_services.members.change_role(org.id, member.id, m.Role.MEMBER, CLI, override=True)
    refused = run(app, "admin", "break-glass", "acme", "bea@acme.test")
    assert refused.exit_code == 1 and "Admins only" in refused.output
    nobody = run(app, "admin", "break-glass", "acme", "ghost@acme.test")
    assert nobody.exit_code == 1
    assert run(app, "admin", "break-glass", "acme", "root@acme.test", "--minutes", "500").exit_code == 1

    first, second = _link(app), _link(app)
    assert _use(client, first).status_code == 403
    assert _use(client, second).status_code == 303


def test_a_link_stops_working_when_its_admin_is_demoted(
    app: Flask, client: FlaskClient, app_services: Services
) -> None:
    org = _locked_out(app_services)
    link = _link(app)
    root = app_services.members.add_admin(org.id, "root@acme.test", CLI)
    app_services.members.change_role(org.id, root.id, m.Role.MEMBER, CLI, override=True)
    assert _use(client, link).status_code == 403
    assert _use(client, "/break-glass?token=bg_forged").status_code == 403
