"""The demo IdP's SAML 2.0 side through HTTP, against the gateway's own SAML service provider: ``gateway demo
seed`` makes the SAML demo organization's connection from the demo IdP's metadata; an SP-initiated sign-in
goes ``/saml/<connection>/login`` -> the demo IdP -> a signed Response posted to the ACS -> signed in.

The gateway's clock starts at the real time here: python3-saml checks the assertion's time window on the wall
clock, the demo IdP issues it on the gateway's clock (as in production, where both are the wall clock).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from werkzeug.test import TestResponse

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import BINDING_REDIRECT, parse_idp_metadata
from tests.conftest import FakeClock

from .conftest import PUBLIC_URL

_load_commands()

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
IDP_ENTITY = f"{PUBLIC_URL}/demo-idp/saml/metadata"
SLUG = "demo-idp-saml"
ACS = f"{PUBLIC_URL}/saml/{SLUG}/acs"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def svc(idp_app: Flask) -> Services:
    return idp_app.extensions["gateway.services"]


@pytest.fixture
def seeded(idp_app: Flask) -> dict:
    result = idp_app.test_cli_runner().invoke(cli, ["demo", "seed", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _path(url: str) -> str:
    assert url.startswith(PUBLIC_URL), url
    return url.removeprefix(PUBLIC_URL)


def _form(response: TestResponse) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's form (the auto-submitting POST to the ACS)."""
    html = response.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    assert action, html
    fields = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }
    return unescape(action.group(1)), fields


def _start(http: FlaskClient, next_url: str | None = None) -> str:
    """``/saml/<connection>/login``: the redirect to the demo IdP's SSO endpoint with the AuthnRequest."""
    response = http.get(f"/saml/{SLUG}/login", query_string={"next": next_url} if next_url else None)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(f"{PUBLIC_URL}/demo-idp/saml/sso?SAMLRequest=")
    return location


def _authn_request(location: str) -> etree._Element:
    value = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    return etree.fromstring(zlib.decompress(base64.b64decode(value), -15))


def _pick(http: FlaskClient, location: str, email: str, *, typed: bool = False) -> TestResponse:
    page = http.get(_path(location))
    assert page.status_code == 200, page.get_data(as_text=True)
    action, fields = _form(page)
    assert action == "/demo-idp/saml/sso"
    return http.post(action, data={**fields, "action": "confirm", ("email" if typed else "person"): email})


def _sign_in(http: FlaskClient, email: str, next_url: str | None = None) -> TestResponse:
    posted = _pick(http, _start(http, next_url), email)
    assert posted.status_code == 200, posted.get_data(as_text=True)
    action, fields = _form(posted)
    assert action == ACS
    return http.post(_path(action), data=fields)


# -- metadata and the seeded connection --------------------------------------------------------------------
def test_metadata_describes_a_redirect_binding_idp_with_its_signing_certificate(idp: FlaskClient) -> None:
    response = idp.get("/demo-idp/saml/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/samlmetadata+xml")
    described = parse_idp_metadata(response.data)  # the gateway's own metadata parser accepts it
    assert described.entity_id == IDP_ENTITY
    assert described.sso_url == f"{PUBLIC_URL}/demo-idp/saml/sso"
    assert described.sso_binding == BINDING_REDIRECT
    assert len(described.certs) == 1 and b"PRIVATE" not in response.data


def test_seed_creates_the_saml_demo_organization_from_the_idp_metadata(
    idp: FlaskClient, svc: Services, seeded: dict
) -> None:
    org = svc.orgs.get(seeded["saml_org"]["id"])
    assert (org.org.slug, org.org.mode) == ("saml-demo", m.MembershipMode.SSO)
    assert [d.domain for d in org.domains] == ["saml.example"]
    assert svc.orgs.org_for_email_domain("saml.example").id == org.org.id
    (connection,) = svc.connections.list(org.org.id)
    assert (
        connection.protocol is m.ConnectionProtocol.SAML and connection.slug == SLUG and connection.is_usable
    )
    served = parse_idp_metadata(idp.get("/demo-idp/saml/metadata").data)
    config = svc.saml_connections.config(connection)
    assert (config.idp_entity_id, config.idp_sso_url, config.idp_certs) == (
        served.entity_id,
        served.sso_url,
        served.certs,
    )
    members = {mb.email: mb.role for mb in svc.members.list(org.org.id, limit=10)[0]}
    assert members == {"admin@saml.example": m.Role.ADMIN, "alan@saml.example": m.Role.MEMBER}
    assert seeded["saml_connection"]["sp_metadata_url"] == f"{PUBLIC_URL}/saml/{SLUG}/metadata"


def test_seeding_again_keeps_the_one_saml_connection(idp_app: Flask, svc: Services, seeded: dict) -> None:
    again = idp_app.test_cli_runner().invoke(cli, ["demo", "seed", "--json"], catch_exceptions=False)
    data = json.loads(again.output)
    assert data["saml_org"] == seeded["saml_org"] and data["notes"] == []
    assert len(svc.connections.list(seeded["saml_org"]["id"])) == 1


def test_login_routes_a_saml_example_address_to_the_saml_connection(idp: FlaskClient, seeded: dict) -> None:
    response = idp.post("/login", data={"email": "alan@saml.example"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/saml/{SLUG}/login?")


# -- SP-initiated sign-in ----------------------------------------------------------------------------------
def test_sp_initiated_sign_in_through_the_demo_idp(idp: FlaskClient, svc: Services, seeded: dict) -> None:
    done = _sign_in(idp, "admin@saml.example", next_url="/admin/members")
    assert done.status_code in (302, 303), done.get_data(as_text=True)
    assert done.headers["Location"].endswith("/admin/members")
    me = idp.get("/me").get_json()
    assert (me["email"], me["role"], me["organization"]["slug"]) == (
        "admin@saml.example",
        "admin",
        "saml-demo",
    )


def test_a_new_person_is_created_just_in_time_with_the_names_from_the_attributes(
    idp: FlaskClient, svc: Services, seeded: dict
) -> None:
    done = _sign_in(idp, "new.joiner@saml.example")
    assert done.status_code in (302, 303), done.get_data(as_text=True)
    me = idp.get("/me").get_json()
    assert (me["email"], me["role"]) == ("new.joiner@saml.example", "member")
    (member,) = [
        mb
        for mb in svc.members.list(seeded["saml_org"]["id"], limit=10)[0]
        if mb.email == "new.joiner@saml.example"
    ]
    assert (member.given_name, member.family_name) == ("New", "Joiner")


def test_the_response_answers_the_request_and_signs_the_assertion(
    idp: FlaskClient, clock: FakeClock, seeded: dict
) -> None:
    location = _start(idp)
    request_id = _authn_request(location).get("ID")
    _, fields = _form(_pick(idp, location, "alan@saml.example"))
    response = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assert response.get("InResponseTo") == request_id and response.get("Destination") == ACS
    assert response.find(f"{{{DS}}}Signature") is None  # the assertion is signed, as Okta and Entra do
    (assertion,) = response.findall(f"{{{SAML}}}Assertion")
    signature = assertion.find(f"{{{DS}}}Signature")
    assert signature is not None
    reference = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference.get("URI") == "#" + assertion.get("ID")
    data = assertion.find(
        f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation/{{{SAML}}}SubjectConfirmationData"
    )
    assert (data.get("InResponseTo"), data.get("Recipient")) == (request_id, ACS)
    audience = assertion.find(f"{{{SAML}}}Conditions/{{{SAML}}}AudienceRestriction/{{{SAML}}}Audience")
    assert audience.text == f"{PUBLIC_URL}/saml/{SLUG}/metadata"
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    now = clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (clock() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (conditions.get("NotBefore"), conditions.get("NotOnOrAfter"), data.get("NotOnOrAfter")) == (
        now,
        later,
        later,
    )
    assert fields["RelayState"] == parse_qs(urlsplit(location).query)["RelayState"][0]  # carried back as sent


def test_the_gateway_refuses_the_response_once_it_expired(
    idp: FlaskClient, clock: FakeClock, seeded: dict
) -> None:
    """The window is real: the gateway's own check (on its clock) refuses the assertion after NotOnOrAfter."""
    _, fields = _form(_pick(idp, _start(idp), "alan@saml.example"))
    clock.advance(minutes=8)
    refused = idp.post(f"/saml/{SLUG}/acs", data=fields)
    assert refused.status_code >= 400 and "expired" in refused.get_data(as_text=True)
    assert idp.get("/me").status_code == 401


def test_the_same_response_cannot_sign_in_twice(idp: FlaskClient, seeded: dict) -> None:
    _, fields = _form(_pick(idp, _start(idp), "alan@saml.example"))
    assert idp.post(f"/saml/{SLUG}/acs", data=fields).status_code in (302, 303)
    assert idp.post(f"/saml/{SLUG}/acs", data=fields).status_code >= 400


# -- refusals at the demo IdP ------------------------------------------------------------------------------
def _deflated(xml: str) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml.encode()) + compressor.flush()).decode()


def _request_xml(acs: str = ACS, issuer: str = f"{PUBLIC_URL}/saml/{SLUG}/metadata") -> str:
    return (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_abc" Version="2.0" '
        f'IssueInstant="2026-12-01T00:00:00Z" Destination="{PUBLIC_URL}/demo-idp/saml/sso" '
        f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="{acs}">'
        f"<saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"
    )


@pytest.mark.parametrize(
    ("saml_request", "says"),
    [
        (None, "No SAMLRequest"),
        ("not base64!", "not base64"),
        (_deflated("<nope"), "not well-formed"),
        (
            _deflated(_request_xml(acs="https://evil.example/acs")),
            "is not one of this gateway's SAML connections",
        ),
        (_deflated(_request_xml(acs=f"{PUBLIC_URL}/saml/{SLUG}/acs?x=1")), "is not one of this gateway's"),
        (_deflated(_request_xml(issuer="https://evil.example/sp")), "Issuer is not the connection"),
        (_deflated('<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'), "DOCTYPE"),
    ],
    ids=["missing", "base64", "xml", "foreign-acs", "acs-query", "issuer", "entity"],
)
def test_requests_the_demo_idp_will_not_answer(idp: FlaskClient, saml_request: str | None, says: str) -> None:
    response = idp.get(
        "/demo-idp/saml/sso", query_string={"SAMLRequest": saml_request} if saml_request else None
    )
    assert response.status_code == 400
    assert says in unescape(response.get_data(as_text=True))
    assert "SAMLResponse" not in response.get_data(as_text=True)


def test_a_request_that_names_another_acs_gets_no_signed_assertion_on_confirm(idp: FlaskClient) -> None:
    form = {"SAMLRequest": _deflated(_request_xml(acs="https://evil.example/acs")), "action": "confirm"}
    response = idp.post("/demo-idp/saml/sso", data={**form, "person": "admin@saml.example"})
    assert response.status_code == 400 and "SAMLResponse" not in response.get_data(as_text=True)


def test_an_address_outside_the_demo_domains_is_refused_on_the_page(idp: FlaskClient, seeded: dict) -> None:
    response = _pick(idp, _start(idp), "someone@elsewhere.example", typed=True)
    assert response.status_code == 400
    assert "type an email address at" in response.get_data(as_text=True)


def test_cancelling_signs_nobody_in(idp: FlaskClient, seeded: dict) -> None:
    page = idp.get(_path(_start(idp)))
    _, fields = _form(page)
    response = idp.post("/demo-idp/saml/sso", data={**fields, "action": "cancel"})
    assert response.status_code == 200 and "Sign-in cancelled" in response.get_data(as_text=True)
    assert "SAMLResponse" not in response.get_data(as_text=True)
    assert idp.get("/me").status_code == 401


def test_an_admin_tests_the_saml_connection_at_the_demo_idp_without_losing_their_session(
    idp: FlaskClient, svc: Services, seeded: dict
) -> None:
    """The console's test sign-in works against the demo IdP as well: RelayState marks the test, and the demo
    IdP carries it back with the assertion."""
    assert _sign_in(idp, "admin@saml.example").status_code in (302, 303)
    started = idp.get(f"/saml/{SLUG}/test", query_string={"next": "/admin/connections"})
    assert started.status_code == 302, started.get_data(as_text=True)
    _, fields = _form(_pick(idp, started.headers["Location"], "new.joiner@saml.example"))
    answered = idp.post(f"/saml/{SLUG}/acs", data=fields)
    assert answered.status_code == 303 and answered.headers["Location"] == "/admin/connections"
    assert idp.get("/me").get_json()["email"] == "admin@saml.example"
    report = svc.connections.by_slug(SLUG).config["last_test"]
    assert report["ok"] is True and report["received"]["email"] == "new.joiner@saml.example"
    assert report["received"]["issuer"] == IDP_ENTITY
    assert report["outcome"]["action"] == "create"
    emails = {mb.email for mb in svc.members.list(seeded["saml_org"]["id"], limit=10)[0]}
    assert "new.joiner@saml.example" not in emails
