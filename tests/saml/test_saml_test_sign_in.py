"""Test sign-in through a SAML connection with the pysaml2 test IdP (issue 13): on a disabled connection, the
report says what the IdP sent (NameID, attributes, certificate, times) and what the gateway would do; the
Admin's session is untouched, no member is created, and a test answer cannot be replayed as a sign-in."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from lxml import etree
from saml_helpers import CLI, SamlSetup
from saml_idp import post_acs

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME


def _as_admin(client: FlaskClient, services: Services, org_id: str) -> str:
    admin = services.members.add_admin(org_id, "root@acme.test", CLI)
    _, token = services.sessions.start(org_id, admin.id, CLI)
    client.set_cookie(COOKIE_NAME, token)
    return token


def _start_test(client: FlaskClient, okta: SamlSetup) -> tuple[str, str]:
    back = f"/admin/connections/{okta.connection.id}"
    answer = client.get(f"/saml/{okta.slug}/test", query_string={"next": back})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    request_xml = zlib.decompress(base64.b64decode(params["SAMLRequest"][0]), -15)
    return etree.fromstring(request_xml).get("ID"), params["RelayState"][0]


def _report(services: Services, okta: SamlSetup) -> dict:
    connection = services.connections.by_slug(okta.slug)
    assert connection is not None
    return connection.config["last_test"]


def test_a_test_on_a_disabled_saml_connection_reports_without_signing_in(
    client: FlaskClient, app_services: Services, okta: SamlSetup
) -> None:
    token = _as_admin(client, app_services, okta.org.id)
    app_services.connections.set_enabled(okta.org.id, okta.connection.id, False, CLI, override=True)
    request_id, relay = _start_test(client, okta)
    attributes = {"email": ["ada@acme.test"], "firstName": ["Ada"], "groups": ["Engineering"]}
    xml = okta.response("ada@acme.test", in_response_to=request_id, attributes=attributes)
    answer = post_acs(client, okta.slug, xml, relay)

    assert (
        answer.status_code == 303 and answer.headers["Location"] == f"/admin/connections/{okta.connection.id}"
    )
    assert COOKIE_NAME not in " ".join(answer.headers.getlist("Set-Cookie"))
    assert app_services.sessions.resolve(token) is not None
    assert client.get("/me").get_json()["email"] == "root@acme.test"
    assert app_services.members.list(okta.org.id)[1] == 1
    report = _report(app_services, okta)
    assert report["ok"] is True and report["protocol"] == "saml" and report["connection_state"] == "disabled"
    received = report["received"]
    assert received["name_id"] == "ada@acme.test" and received["email"] == "ada@acme.test"
    assert received["claims"]["firstName"] == ["Ada"] and received["groups"] == ["Engineering"]
    assert received["issuer"] == okta.connection.config["idp_entity_id"] and received["certificate"]
    assert received["times"]["issue_instant"] and received["times"]["not_on_or_after"]
    assert report["outcome"]["action"] == "create" and report["outcome"]["role"] == "member"
    page = client.get(f"/admin/connections/{okta.connection.id}").get_data(as_text=True)
    assert "Last test sign-in" in page and "firstName" in page

    # The same answer, replayed at the ACS as a real sign-in, is refused.
    replay = post_acs(client, okta.slug, xml, None)
    assert replay.status_code == 403
    assert app_services.members.list(okta.org.id)[1] == 1


def test_a_refused_answer_is_reported_with_why(
    client: FlaskClient, app_services: Services, okta: SamlSetup
) -> None:
    _as_admin(client, app_services, okta.org.id)
    request_id, relay = _start_test(client, okta)
    xml = okta.response("ada@acme.test", in_response_to=request_id, sign_assertion=False)
    assert post_acs(client, okta.slug, xml, relay).status_code == 303
    report = _report(app_services, okta)
    assert report["ok"] is False and report["error"]["code"].startswith("saml_")
    assert report["outcome"]["action"] == "refuse"


def test_a_forged_test_marker_without_a_test_request_is_refused(
    client: FlaskClient, app_services: Services, okta: SamlSetup
) -> None:
    _as_admin(client, app_services, okta.org.id)
    xml = okta.response("ada@acme.test")  # IdP-initiated: no InResponseTo
    assert post_acs(client, okta.slug, xml, "gw-test:/admin/").status_code == 403
    forged = post_acs(
        client, okta.slug, okta.response("ada@acme.test", in_response_to="_made_up"), "gw-test:/"
    )
    assert forged.status_code == 403
    assert "last_test" not in app_services.connections.by_slug(okta.slug).config  # type: ignore[union-attr]
    assert app_services.members.list(okta.org.id)[1] == 1


def test_the_report_needs_no_session_cookie_at_the_acs(
    client: FlaskClient, app_services: Services, okta: SamlSetup
) -> None:
    """The IdP's POST is cross-site: SameSite=Lax keeps the Admin's cookie out of it."""
    _as_admin(client, app_services, okta.org.id)
    request_id, relay = _start_test(client, okta)
    client.delete_cookie(COOKIE_NAME)
    xml = okta.response("ada@acme.test", in_response_to=request_id)
    assert post_acs(client, okta.slug, xml, relay).status_code == 303
    assert _report(app_services, okta)["ok"] is True


def test_only_an_admin_of_the_organization_can_test(
    client: FlaskClient, app_services: Services, okta: SamlSetup
) -> None:
    assert client.get(f"/saml/{okta.slug}/test").status_code == 403
    member = app_services.members.add_admin(okta.org.id, "bea@acme.test", CLI)
    app_services.members.change_role(okta.org.id, member.id, m.Role.MEMBER, CLI, override=True)
    _, token = app_services.sessions.start(okta.org.id, member.id, CLI)
    client.set_cookie(COOKIE_NAME, token)
    assert client.get(f"/saml/{okta.slug}/test").status_code == 403
