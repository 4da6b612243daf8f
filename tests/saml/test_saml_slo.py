"""Single logout over the HTTP-Redirect binding, SP- and IdP-initiated, against the pysaml2 test IdP (the
HTTP-POST binding: ``test_saml_slo_post``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml_helpers import SamlSetup
from saml_idp import RSA_SHA256, reason

from gateway.services import Services
from tests.signout import sign_out


def _location_query(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def _idp_redirect(setup: SamlSetup, message: str, *, response: bool, relay_state: str = "") -> str:
    """The URL (path and query) the IdP sends the browser to, signed over the Redirect binding."""
    info = setup.idp.server.apply_binding(
        BINDING_HTTP_REDIRECT,
        message,
        destination=f"http://gateway.test/saml/{setup.slug}/slo",
        relay_state=relay_state,
        response=response,
        sign=True,
        sigalg=RSA_SHA256,
    )
    location = dict(info["headers"])["Location"]
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def _logout_request_from_idp(setup: SamlSetup, email: str, session_index: str | None = None) -> str:
    _request_id, request = setup.idp.server.create_logout_request(
        destination=f"http://gateway.test/saml/{setup.slug}/slo",
        issuer_entity_id=setup.audience,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
        session_indexes=[session_index] if session_index else None,
        sign=False,
    )
    return str(request)


def test_idp_initiated_logout_ends_the_members_session(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    assert client.get("/me").status_code == 200

    idp_browser = client.application.test_client()
    answer = idp_browser.get(
        _idp_redirect(okta, _logout_request_from_idp(okta, "ada@acme.test"), response=False)
    )

    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"].startswith(okta.idp.slo_url)
    assert "SAMLResponse" in _location_query(answer) and "Signature" in _location_query(answer)
    assert client.get("/me").status_code == 401
    events, _ = app_services.audit.list(okta.org.id, action="session.single_logout")
    assert events and events[0].details["sessions"] == 1


def test_unsigned_idp_logout_request_is_refused(client: FlaskClient, okta: SamlSetup) -> None:
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    info = okta.idp.server.apply_binding(
        BINDING_HTTP_REDIRECT,
        _logout_request_from_idp(okta, "ada@acme.test"),
        destination=f"http://gateway.test/saml/{okta.slug}/slo",
        response=False,
        sign=False,
    )
    parts = urlsplit(dict(info["headers"])["Location"])
    answer = client.application.test_client().get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 403
    assert reason(answer) == "saml_logout_invalid"
    assert client.get("/me").status_code == 200


def test_sp_initiated_logout_goes_to_the_idp_and_comes_back(client: FlaskClient, okta: SamlSetup) -> None:
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    answer = sign_out(client, "/bye")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(okta.idp.slo_url)
    assert client.get("/me").status_code == 401
    query = _location_query(answer)
    assert query["RelayState"] == "/bye" and "Signature" in query

    parsed = okta.idp.server.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
    assert parsed.message.name_id.text == "ada@acme.test"
    logout_response = okta.idp.server.create_logout_response(parsed.message, [BINDING_HTTP_REDIRECT])
    back = client.get(
        _idp_redirect(okta, str(logout_response), response=True, relay_state=query["RelayState"])
    )
    assert back.status_code == 303
    assert back.headers["Location"] == "/bye"

    replayed = client.get(_idp_redirect(okta, str(logout_response), response=True))
    assert replayed.status_code == 403
    assert reason(replayed) == "saml_unknown_request"


def test_logout_without_a_saml_session_does_not_involve_the_idp(client: FlaskClient, okta: SamlSetup) -> None:
    answer = sign_out(client)
    assert answer.status_code == 303
    assert not answer.headers["Location"].startswith(okta.idp.slo_url)


def test_slo_refuses_empty_requests(client: FlaskClient, okta: SamlSetup) -> None:
    assert reason(client.post(f"/saml/{okta.slug}/slo")) == "saml_missing_message"
    assert reason(client.get(f"/saml/{okta.slug}/slo")) == "saml_missing_message"
