"""End-to-end SAML sign-in over HTTP with responses signed by an independent IdP (pysaml2 + xmlsec1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, add_saml_connection, saml_connections
from saml_idp import post_acs, reason, start_login

from gateway.domain import model as m
from gateway.services import Services

FIXTURES = Path(__file__).parent / "fixtures"
VENDORS = ["okta", "google", "entra", "jumpcloud", "generic"]


def vendor(name: str) -> dict:
    return json.loads((FIXTURES / name / "identity.json").read_text())


def session_cookie(answer) -> str | None:  # type: ignore[no-untyped-def]
    return next((v for v in answer.headers.getlist("Set-Cookie") if v.startswith("gw_session=")), None)


@pytest.mark.parametrize("preset", VENDORS)
def test_each_vendor_signs_in_end_to_end_with_its_attribute_shapes(
    app: Flask, client: FlaskClient, acme: m.Organization, app_services: Services, preset: str
) -> None:
    shape = vendor(preset)
    admin_groups = (shape["admin_group"],) if shape["admin_group"] else ()
    setup = add_saml_connection(app, client, acme, name=preset, preset=preset, admin_groups=admin_groups)

    answer = setup.sign_in(client, shape["name_id"], attributes=shape["attributes"], next_url="/me")

    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"] == "/me"
    me = client.get("/me").get_json()
    expected = shape["expected"]
    assert me["email"] == expected["email"]
    assert me["given_name"] == expected["given_name"]
    assert me["family_name"] == expected["family_name"]
    assert me["display_name"] == expected["display_name"]
    assert me["role"] == ("admin" if admin_groups else "member")
    assert [p["is_default"] for p in me["projects"]] == [True]
    events, _ = app_services.audit.list(acme.id, action="sign_in.succeeded")
    assert events and events[0].details["email"] == expected["email"]


def test_existing_member_is_signed_in_without_a_second_account(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    member = app_services.members.add_admin(okta.org.id, "ada@acme.test", CLI)
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    me = client.get("/me").get_json()
    assert me["id"] == member.id
    assert me["role"] == "admin"


def test_suspended_member_is_refused_with_a_clear_page(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    member = app_services.members.add_admin(okta.org.id, "ada@acme.test", CLI)
    app_services.members.add_admin(okta.org.id, "other-admin@acme.test", CLI)
    app_services.members.suspend(okta.org.id, member.id, CLI)
    answer = okta.sign_in(client, "ada@acme.test")
    assert answer.status_code == 403
    assert reason(answer) == "member_inactive"
    assert session_cookie(answer) is None
    assert client.get("/me").status_code == 401


def test_unknown_email_outside_the_verified_domains_is_not_created(
    client: FlaskClient, okta: SamlSetup
) -> None:
    answer = okta.sign_in(client, "eve@elsewhere.test")
    assert answer.status_code == 403
    assert session_cookie(answer) is None
    assert client.get("/me").status_code == 401


def test_invitation_mode_organization_refuses_saml(
    app: Flask, client: FlaskClient, app_services: Services
) -> None:
    org = app_services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI, domains=["initech.test"]).org
    setup = add_saml_connection(app, client, org)
    answer = client.get(f"/saml/{setup.slug}/login")
    assert answer.status_code == 403
    assert reason(answer) == "connection_disabled"
    # Even a response crafted without the login step is refused, and audited.
    xml = setup.response("bob@initech.test")
    answer = post_acs(client, setup.slug, xml)
    assert answer.status_code == 403
    assert client.get("/me").status_code == 401
    events, _ = app_services.audit.list(org.id, action="sign_in.refused")
    assert events[0].details["reason"] == "connection_disabled"


def test_relay_state_only_redirects_to_gateway_paths(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, _ = start_login(client, okta.slug)
    xml = okta.response("ada@acme.test", in_response_to=request_id)
    answer = post_acs(client, okta.slug, xml, relay_state="https://evil.test/phish")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/me"


def test_login_keeps_a_safe_next_path_as_relay_state(client: FlaskClient, okta: SamlSetup) -> None:
    _, relay = start_login(client, okta.slug, "/projects?tab=1")
    assert relay == "/projects?tab=1"
    _, relay = start_login(client, okta.slug, "//evil.test/")
    assert relay == "/me"


def test_idp_initiated_sign_in_works_only_when_the_connection_allows_it(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    answer = post_acs(client, okta.slug, okta.response("ada@acme.test"))
    assert answer.status_code == 403
    assert reason(answer) == "saml_unsolicited"
    saml_connections(app).set_allow_idp_initiated(okta.org.id, okta.connection.id, True, CLI)
    answer = post_acs(client, okta.slug, okta.response("ada@acme.test"), relay_state="/me")
    assert answer.status_code == 303
    assert client.get("/me").get_json()["email"] == "ada@acme.test"


def test_sign_in_replaces_the_previous_session(client: FlaskClient, okta: SamlSetup) -> None:
    first = okta.sign_in(client, "ada@acme.test")
    second = okta.sign_in(client, "grace@acme.test")
    assert session_cookie(first) != session_cookie(second)
    assert client.get("/me").get_json()["email"] == "grace@acme.test"


def test_sp_metadata_describes_the_connection(client: FlaskClient, okta: SamlSetup) -> None:
    answer = client.get(f"/saml/{okta.slug}/metadata")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/samlmetadata+xml")
    body = answer.get_data(as_text=True)
    assert f'entityID="{okta.audience}"' in body
    assert f'Location="{okta.acs}"' in body
    assert "AuthnRequestsSigned" in body and 'WantAssertionsSigned="true"' in body


def test_urls_come_from_the_public_url_not_the_host_header(client: FlaskClient, okta: SamlSetup) -> None:
    body = client.get(f"/saml/{okta.slug}/metadata", headers={"Host": "evil.test"}).get_data(as_text=True)
    assert "evil.test" not in body
    answer = client.get(
        f"/saml/{okta.slug}/login", headers={"Host": "evil.test", "X-Forwarded-Host": "evil.test"}
    )
    assert "evil.test" not in answer.headers["Location"]


def test_unknown_connection_is_a_404_page(client: FlaskClient) -> None:
    for path in ("metadata", "login", "acs", "slo"):
        answer = client.open(f"/saml/nope/{path}", method="POST" if path == "acs" else "GET")
        assert answer.status_code == 404
        assert reason(answer) == "saml_unknown_connection"


def test_idp_with_post_binding_gets_an_auto_submitted_form(
    app: Flask, client: FlaskClient, acme: m.Organization
) -> None:
    setup = add_saml_connection(app, client, acme, name="postonly")
    config = dict(setup.connection.config, idp_sso_binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    with app.extensions["gateway.services"].db.transaction() as tx:
        tx.get(m.SsoConnection, acme.id, setup.connection.id).config = config
    answer = client.get(f"/saml/{setup.slug}/login?next=/me")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert 'name="SAMLRequest"' in page and f'action="{setup.idp.sso_url}"' in page


def test_group_mapping_keeps_existing_members_roles_in_step_with_the_idp(
    app: Flask, client: FlaskClient, acme: m.Organization, app_services: Services
) -> None:
    app_services.members.add_admin(acme.id, "owner@acme.test", CLI)
    app_services.members.add_admin(acme.id, "ada@acme.test", CLI)
    mapped = add_saml_connection(app, client, acme, name="mapped", admin_groups=("gateway-admins",))
    assert (
        mapped.sign_in(
            client, "ada@acme.test", attributes={"email": ["ada@acme.test"], "groups": ["eng"]}
        ).status_code
        == 303
    )
    assert client.get("/me").get_json()["role"] == "member"
    admins = {"email": ["ada@acme.test"], "groups": ["gateway-admins"]}
    assert mapped.sign_in(client, "ada@acme.test", attributes=admins).status_code == 303
    assert client.get("/me").get_json()["role"] == "admin"


def test_without_group_mapping_an_existing_admin_keeps_the_role(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    app_services.members.add_admin(okta.org.id, "owner@acme.test", CLI)
    app_services.members.add_admin(okta.org.id, "ada@acme.test", CLI)
    assert (
        okta.sign_in(
            client, "ada@acme.test", attributes={"email": ["ada@acme.test"], "groups": ["eng"]}
        ).status_code
        == 303
    )
    assert client.get("/me").get_json()["role"] == "admin"
