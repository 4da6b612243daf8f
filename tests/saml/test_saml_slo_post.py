"""Single logout over the HTTP-POST binding (issue 13), SP- and IdP-initiated, against the pysaml2 test IdP:
signed LogoutRequest / LogoutResponse messages posted by the browser, verified both ways."""

from __future__ import annotations

import base64
import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml_helpers import CLI, SamlSetup, cached_idp, saml_connections
from saml_idp import IDP_KEY, RSA_SHA256, SHA256, idp_metadata, reason
from signout import sign_out

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import BINDING_POST, parse_idp_metadata

ENTITY = "https://idp.acme.test/post-slo"
_FIELD = re.compile(r'name="(SAMLRequest|SAMLResponse)" value="([^"]+)"')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_RELAY = re.compile(r'name="RelayState" value="([^"]*)"')


@pytest.fixture
def post_slo(app: Flask, client: FlaskClient, acme: m.Organization) -> SamlSetup:
    """A connection whose IdP offers single logout only over the HTTP-POST binding."""
    slo = f'<md:SingleLogoutService Binding="{BINDING_HTTP_POST}" Location="{ENTITY}/slo"/>'
    metadata = idp_metadata(ENTITY, slo=False).replace(
        b"<md:NameIDFormat>", slo.encode() + b"<md:NameIDFormat>", 1
    )
    descriptor = parse_idp_metadata(metadata)
    assert descriptor.slo_binding == BINDING_POST and descriptor.slo_url == f"{ENTITY}/slo"
    connection = saml_connections(app).create(acme.id, "post-slo", descriptor, CLI, preset="okta")
    sp_metadata = client.get(f"/saml/{connection.slug}/metadata").get_data(as_text=True)
    return SamlSetup(acme, connection, cached_idp(ENTITY, sp_metadata, IDP_KEY))


def _form(answer) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """(action, message, RelayState) of the auto-submitting POST form the gateway answered with."""
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200, body
    field = _FIELD.search(body)
    assert field is not None, body
    relay = _RELAY.search(body)
    return (
        html.unescape(_ACTION.search(body).group(1)),
        field.group(2),
        html.unescape(relay.group(1) if relay else ""),
    )  # type: ignore[union-attr]


def _signed_logout_request(setup: SamlSetup, email: str, *, sign: bool = True) -> str:
    _id, request = setup.idp.server.create_logout_request(
        destination=f"http://gateway.test/saml/{setup.slug}/slo",
        issuer_entity_id=setup.audience,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
        sign=sign,
        sign_alg=RSA_SHA256,
        digest_alg=SHA256,
    )
    return base64.b64encode(str(request).encode()).decode()


def test_idp_initiated_post_logout_ends_the_session_and_answers_signed(
    client: FlaskClient, post_slo: SamlSetup, app_services: Services
) -> None:
    assert post_slo.sign_in(client, "ada@acme.test").status_code == 303
    assert client.get("/me").status_code == 200
    idp_browser = client.application.test_client()
    answer = idp_browser.post(
        f"/saml/{post_slo.slug}/slo",
        data={"SAMLRequest": _signed_logout_request(post_slo, "ada@acme.test"), "RelayState": "r1"},
    )
    action, message, relay = _form(answer)
    assert action == f"{ENTITY}/slo" and relay == "r1"
    parsed = post_slo.idp.server.parse_logout_request_response(
        message, BINDING_HTTP_POST
    )  # verifies the SP signature
    assert parsed.status_ok()
    assert client.get("/me").status_code == 401
    assert app_services.audit.list(post_slo.org.id, action="session.single_logout")[0]


def test_an_unsigned_or_tampered_post_logout_request_is_refused(
    client: FlaskClient, post_slo: SamlSetup
) -> None:
    assert post_slo.sign_in(client, "ada@acme.test").status_code == 303
    other = client.application.test_client()
    unsigned = other.post(
        f"/saml/{post_slo.slug}/slo",
        data={"SAMLRequest": _signed_logout_request(post_slo, "ada@acme.test", sign=False)},
    )
    assert unsigned.status_code == 403 and reason(unsigned) == "saml_logout_invalid"
    signed = base64.b64decode(_signed_logout_request(post_slo, "ada@acme.test"))
    tampered = base64.b64encode(signed.replace(b"ada@acme.test", b"bob@acme.test")).decode()
    refused = other.post(f"/saml/{post_slo.slug}/slo", data={"SAMLRequest": tampered})
    assert refused.status_code == 403 and reason(refused) == "saml_logout_invalid"
    assert client.get("/me").status_code == 200


def test_sp_initiated_post_logout_goes_to_the_idp_and_comes_back(
    client: FlaskClient, post_slo: SamlSetup
) -> None:
    assert post_slo.sign_in(client, "ada@acme.test").status_code == 303
    action, message, relay = _form(sign_out(client, "/bye"))
    assert action == f"{ENTITY}/slo" and relay == "/bye"
    assert client.get("/me").status_code == 401
    parsed = post_slo.idp.server.parse_logout_request(message, BINDING_HTTP_POST)  # verifies the SP signature
    assert parsed.message.name_id.text == "ada@acme.test"
    # The SP metadata names one SLO URL (listed with the Redirect binding); the IdP posts its answer there.
    response = post_slo.idp.server.create_logout_response(
        parsed.message, [BINDING_HTTP_REDIRECT], sign=True, sign_alg=RSA_SHA256, digest_alg=SHA256
    )
    encoded = base64.b64encode(str(response).encode()).decode()
    back = client.post(f"/saml/{post_slo.slug}/slo", data={"SAMLResponse": encoded, "RelayState": relay})
    assert back.status_code == 303 and back.headers["Location"] == "/bye"
    replayed = client.post(f"/saml/{post_slo.slug}/slo", data={"SAMLResponse": encoded})
    assert replayed.status_code == 403 and reason(replayed) == "saml_unknown_request"
