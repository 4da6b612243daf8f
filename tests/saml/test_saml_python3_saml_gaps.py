"""The known gaps of python3-saml, each closed by the gateway itself. Every test here builds a response that
python3-saml alone accepts (or mishandles), and asserts the gateway's own refusal code, so it fails if the
gateway's check is removed."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from saml_helpers import CLI, SamlSetup, saml_connections
from saml_idp import DS, SAML, b64, deflate_b64, post_acs, q, reason, start_login

from gateway.services.saml_connections import SamlConfig, SamlRefused
from saml.sp_settings import build_settings, security_settings


def _remove_audience_restriction(root: etree._Element) -> None:
    for restriction in list(root.iter(q(SAML, "AudienceRestriction"))):
        restriction.getparent().remove(restriction)


def test_response_without_audience_restriction_is_refused(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response("ada@acme.test", in_response_to=request_id, mutate=_remove_audience_restriction)
    answer = post_acs(client, okta.slug, signed, relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_audience"
    assert client.get("/me").status_code == 401


def test_destination_is_matched_exactly_not_as_a_prefix(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response(
        "ada@acme.test",
        in_response_to=request_id,
        sign_response=True,
        mutate=lambda r: r.set("Destination", okta.acs + "-somewhere-else"),
    )
    answer = post_acs(client, okta.slug, signed, relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_destination"


def test_recipient_is_matched_exactly_not_as_a_substring(client: FlaskClient, okta: SamlSetup) -> None:
    def recipient_elsewhere(root: etree._Element) -> None:
        for data in root.iter(q(SAML, "SubjectConfirmationData")):
            data.set("Recipient", "https://evil.test/collect?for=" + okta.acs)

    request_id, relay = start_login(client, okta.slug)
    signed = okta.response("ada@acme.test", in_response_to=request_id, mutate=recipient_elsewhere)
    answer = post_acs(client, okta.slug, signed, relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_recipient"


def test_replay_cache_refuses_a_second_use_of_an_unsolicited_assertion(
    app: Flask, client: FlaskClient, okta: SamlSetup
) -> None:
    """No request id to consume here, so only the replay cache stands between the attacker and a session."""
    saml_connections(app).set_allow_idp_initiated(okta.org.id, okta.connection.id, True, CLI)
    signed = okta.response("ada@acme.test")
    assert post_acs(client, okta.slug, signed).status_code == 303
    fresh = app.test_client()
    answer = post_acs(fresh, okta.slug, signed)
    assert answer.status_code == 403
    assert reason(answer) == "saml_replay"
    assert fresh.get("/me").status_code == 401


def test_unsolicited_response_is_refused_when_idp_initiated_is_off(
    client: FlaskClient, okta: SamlSetup
) -> None:
    answer = post_acs(client, okta.slug, okta.response("ada@acme.test"))
    assert answer.status_code == 403
    assert reason(answer) == "saml_unsolicited"


def test_request_id_is_single_use(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, relay = start_login(client, okta.slug)
    assert (
        post_acs(
            client, okta.slug, okta.response("ada@acme.test", in_response_to=request_id), relay
        ).status_code
        == 303
    )
    second = okta.response("ada@acme.test", in_response_to=request_id)
    answer = post_acs(client, okta.slug, second, relay)
    assert reason(answer) == "saml_unknown_request"


def test_remembered_request_expires_after_ten_minutes(app: Flask, okta: SamlSetup, clock) -> None:  # type: ignore[no-untyped-def]
    service = saml_connections(app)
    service.remember_request(okta.connection, "ONELOGIN_late")
    clock.advance(minutes=11)
    with pytest.raises(SamlRefused) as refused:
        service.accept_assertion(
            okta.connection, assertion_id="_a1", not_on_or_after=None, in_response_to="ONELOGIN_late"
        )
    assert refused.value.code == "saml_unknown_request"


def test_redirect_binding_is_inflated_with_a_bound_before_python3_saml_sees_it(
    client: FlaskClient, okta: SamlSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unbounded(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("python3-saml's unbounded inflate was reached")

    monkeypatch.setattr(OneLogin_Saml2_Utils, "decode_base64_and_inflate", staticmethod(unbounded))
    bomb = deflate_b64(b"<" + b"A" * (16 * 1024 * 1024))
    for param in ("SAMLRequest", "SAMLResponse"):
        answer = client.get(f"/saml/{okta.slug}/slo", query_string={param: bomb})
        assert answer.status_code == 400
        assert reason(answer) == "saml_message_too_large"


def test_expected_urls_come_from_the_public_url_not_the_host_header(
    client: FlaskClient, okta: SamlSetup
) -> None:
    # A genuine response for the public URL is accepted whatever Host the request claims ...
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response("ada@acme.test", in_response_to=request_id, sign_response=True)
    # The browser's binding cookie, copied to the claimed host: the test client keeps cookies per host.
    bound = client.get_cookie("gw_saml_binding", path=f"/saml/{okta.slug}/")
    assert bound is not None
    client.set_cookie("gw_saml_binding", bound.value, domain="evil.test", path=f"/saml/{okta.slug}/")
    answer = client.post(
        f"/saml/{okta.slug}/acs",
        data={"SAMLResponse": b64(signed), "RelayState": relay},
        headers={"Host": "evil.test", "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    # ... and one addressed to the Host header's URL is refused.
    evil_acs = f"https://evil.test/saml/{okta.slug}/acs"
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response("ada@acme.test", in_response_to=request_id, acs=evil_acs, sign_response=True)
    answer = client.post(
        f"/saml/{okta.slug}/acs",
        data={"SAMLResponse": b64(signed), "RelayState": relay},
        headers={"Host": "evil.test", "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https"},
        base_url="https://evil.test",
    )
    assert answer.status_code == 403
    assert reason(answer) in {"saml_destination", "saml_recipient", "saml_subject_confirmation"}


def test_python3_saml_is_configured_strict_with_signed_assertions_and_no_deprecated_algorithms(
    app: Flask, okta: SamlSetup
) -> None:
    with app.app_context():
        sp_settings = build_settings(app.extensions["gateway.settings"], okta.connection)
    assert sp_settings.is_strict()
    security = sp_settings.get_security_data()
    assert security["wantAssertionsSigned"] is True
    assert security["rejectDeprecatedAlgorithm"] is True
    assert security_settings(SamlConfig.from_dict(okta.connection.config), for_logout=True)[
        "wantMessagesSigned"
    ]


def test_xslt_transform_never_reaches_xmlsec(client: FlaskClient, okta: SamlSetup) -> None:
    """GHSA-8mmq-f9vf-8fg2: an XSLT transform in ds:Transforms is refused before signature verification."""
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response("ada@acme.test", in_response_to=request_id)
    root = etree.fromstring(signed)
    transforms = next(root.iter(q(DS, "Transforms")))
    xslt = etree.SubElement(
        transforms, q(DS, "Transform"), Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"
    )
    stylesheet = etree.SubElement(xslt, "{http://www.w3.org/1999/XSL/Transform}stylesheet", version="1.0")
    etree.SubElement(stylesheet, "{http://www.w3.org/1999/XSL/Transform}template", match="/")
    answer = post_acs(client, okta.slug, etree.tostring(root), relay)
    assert answer.status_code == 403
    assert reason(answer) == "saml_signature_transform"


def test_xpath_transform_is_refused(client: FlaskClient, okta: SamlSetup) -> None:
    request_id, relay = start_login(client, okta.slug)
    root = etree.fromstring(okta.response("ada@acme.test", in_response_to=request_id))
    transforms = next(root.iter(q(DS, "Transforms")))
    xpath = etree.SubElement(
        transforms, q(DS, "Transform"), Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"
    )
    etree.SubElement(xpath, q(DS, "XPath")).text = "1"
    answer = post_acs(client, okta.slug, etree.tostring(root), relay)
    assert reason(answer) == "saml_signature_transform"
