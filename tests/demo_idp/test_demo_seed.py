"""``gateway demo seed`` and ``gateway demo env`` (both backends): the demo organizations, an OIDC connection
the OIDC adapter can use against the demo IdP, and the platform login settings that point at it."""

from __future__ import annotations

import json
import shlex

import pytest
from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.oidc.platform import load_platform_login
from gateway.services import Services
from gateway.services.demo_directory import client_secret

from .conftest import PUBLIC_URL, SECRET_KEY

_load_commands()
CLI = m.Actor.cli()


def run(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def seed(app: Flask) -> dict:
    return json.loads(run(app, "demo", "seed", "--json").output)


@pytest.fixture
def svc(idp_app: Flask) -> Services:
    return idp_app.extensions["gateway.services"]


def _emails(svc: Services, org_id: str) -> dict[str, m.Role]:
    return {member.email: member.role for member in svc.members.list(org_id, limit=100)[0]}


def test_seed_creates_both_organizations_and_is_idempotent(idp_app: Flask, svc: Services) -> None:
    first, second = seed(idp_app), seed(idp_app)
    assert first["org"] == second["org"] and first["invitation_org"] == second["invitation_org"]
    demo = svc.orgs.get(first["org"]["id"])
    assert demo.org.mode is m.MembershipMode.SSO and [d.domain for d in demo.domains] == ["demo.example"]
    assert _emails(svc, demo.org.id) == {
        "admin@demo.example": m.Role.ADMIN, "ada@demo.example": m.Role.MEMBER, "grace@demo.example": m.Role.MEMBER,
    }  # fmt: skip
    invite = svc.orgs.get(first["invitation_org"]["id"])
    assert invite.org.slug == "invite-demo" and invite.org.mode is m.MembershipMode.INVITATION
    assert [d.domain for d in invite.domains] == ["invite.example"]
    assert _emails(svc, invite.org.id) == {"admin@invite.example": m.Role.ADMIN}
    assert len(svc.connections.list(demo.org.id)) == 1
    assert svc.credentials.authenticate_api_key(second["admin_api_key"]).org.id == demo.org.id


def test_the_connection_is_usable_by_the_oidc_adapter_against_the_demo_idp(
    idp_app: Flask, svc: Services
) -> None:
    data = seed(idp_app)
    connection = svc.connections.by_slug(data["connection"]["slug"])
    assert (
        connection is not None and connection.is_usable and connection.protocol is m.ConnectionProtocol.OIDC
    )
    assert svc.orgs.org_for_email_domain("demo.example").id == data["org"]["id"]
    client = idp_app.extensions["gateway.oidc"].connections.client_settings(connection)
    assert client.client_secret == client_secret(SECRET_KEY, client.client_id)
    published = idp_app.test_client().get("/demo-idp/.well-known/openid-configuration").get_json()
    assert client.metadata.issuer == published["issuer"] == f"{PUBLIC_URL}/demo-idp"
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert getattr(client.metadata, endpoint) == published[endpoint]
    assert client.scopes == ["openid", "email", "profile"] and client.claims["email"] == "email"


def test_login_sends_the_demo_admin_to_the_demo_idp(idp_app: Flask) -> None:
    seed(idp_app)
    http = idp_app.test_client()
    to_connection = http.post("/login", data={"email": "admin@demo.example"})
    assert to_connection.status_code == 303
    to_idp = http.get(to_connection.headers["Location"])
    assert to_idp.status_code == 303
    authorize = to_idp.headers["Location"]
    assert authorize.startswith(f"{PUBLIC_URL}/demo-idp/authorize?")
    page = http.get(authorize.removeprefix(PUBLIC_URL))
    assert page.status_code == 200 and 'value="admin@demo.example" checked' in page.get_data(as_text=True)


def test_seed_prints_where_to_click(idp_app: Flask) -> None:
    text = run(idp_app, "demo", "seed").output
    assert f"Open {PUBLIC_URL}/login" in text
    for email in (
        "admin@demo.example", "ada@demo.example", "admin@invite.example", "newhire@invite.example",
        "admin@saml.example", "alan@saml.example",
    ):  # fmt: skip
        assert email in text
    assert f"{PUBLIC_URL}/admin/invitations" in text


def test_seed_upgrades_an_older_invitation_mode_demo_organization(idp_app: Flask, svc: Services) -> None:
    old = svc.orgs.create(
        "Demo Company", m.MembershipMode.INVITATION, CLI, slug="demo", domains=["demo.example"]
    )
    svc.members.add_admin(old.org.id, "admin@demo.example", CLI)
    data = seed(idp_app)
    assert data["org"]["id"] == old.org.id
    assert svc.orgs.get(old.org.id).org.mode is m.MembershipMode.SSO
    assert all(c.is_usable for c in svc.connections.list(old.org.id))


def test_demo_env_configures_the_demo_idp_as_the_platform_login_provider(idp_app: Flask) -> None:
    lines = run(idp_app, "demo", "env").output.strip().splitlines()
    environ = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    assert environ["GATEWAY_DEMO_IDP"] == "1"
    login = load_platform_login(environ)
    assert login.configured and login.issuer == f"{PUBLIC_URL}/demo-idp"
    assert login.client_secret == client_secret(SECRET_KEY, login.client_id)
    assert login.name == "Demo IdP"
