"""The gateway's own SAML checks as pure functions (no app, no database, time passed in)."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from gateway.services.saml_connections import SamlRefused
from saml import checks

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACS = "https://gw.test/saml/acme-okta/acs"
SP = "https://gw.test/saml/acme-okta/metadata"
IDP = "https://idp.acme.test"
EXPECTED = checks.Expected(sp_entity_id=SP, acs_url=ACS, idp_entity_id=IDP, now=NOW)


def code(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SamlRefused) as refused:
        fn(*args)
    return refused.value.code


def deflated(data: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(data) + c.flush()).decode()


def test_inflate_is_bounded_exactly_at_the_limit() -> None:
    assert checks.inflate_redirect_message(deflated(b"a" * 1000), max_bytes=1000) == b"a" * 1000
    assert code(checks.inflate_redirect_message, deflated(b"a" * 1001), 1000) == "saml_message_too_large"
    assert code(checks.inflate_redirect_message, base64.b64encode(b"\xff\xff").decode()) == "saml_malformed"


def test_post_message_is_refused_before_decoding_when_too_long() -> None:
    assert code(checks.decode_post_message, "A" * 2000, 1000) == "saml_message_too_large"
    assert code(checks.decode_post_message, "", 1000) == "saml_missing_message"
    assert checks.decode_post_message(base64.b64encode(b"<x/>").decode()) == b"<x/>"


@pytest.mark.parametrize(
    "xml",
    [b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b'<!DOCTYPE x SYSTEM "http://evil.test/x.dtd"><x/>'],
)
def test_any_doctype_is_refused(xml: bytes) -> None:
    assert code(checks.parse_xml, xml) == "saml_dtd"


def assertion(conditions: str = "", subject: str = "", issuer: str = IDP) -> etree._Element:
    xml = f"""<samlp:Response xmlns:samlp="{checks.SAMLP}" xmlns:saml="{checks.SAML}" ID="_r" InResponseTo="_q"
      Destination="{ACS}"><saml:Issuer>{issuer}</saml:Issuer>
      <saml:Assertion ID="_a"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject>{subject}</saml:Subject>
      <saml:Conditions NotBefore="2026-11-02T08:55:00Z" NotOnOrAfter="2026-11-02T09:05:00Z">{conditions}</saml:Conditions>
      </saml:Assertion></samlp:Response>"""
    return etree.fromstring(xml.encode())


GOOD_AUDIENCE = f"<saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction>"
GOOD_SUBJECT = (
    f'<saml:SubjectConfirmation Method="{checks.CM_BEARER}"><saml:SubjectConfirmationData '
    f'Recipient="{ACS}" InResponseTo="_q" NotOnOrAfter="2026-11-02T09:05:00Z"/></saml:SubjectConfirmation>'
)


def test_a_well_formed_assertion_passes_and_reports_its_lifetime() -> None:
    root = assertion(GOOD_AUDIENCE, GOOD_SUBJECT)
    facts = checks.check_verified_response(root, root, EXPECTED)
    assert facts.assertion_id == "_a" and facts.in_response_to == "_q"
    assert facts.not_on_or_after == datetime(2026, 11, 2, 9, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("conditions", "subject", "issuer", "expected_now", "reason"),
    [
        ("", GOOD_SUBJECT, IDP, NOW, "saml_audience"),
        (GOOD_AUDIENCE.replace(SP, SP + "x"), GOOD_SUBJECT, IDP, NOW, "saml_audience"),
        (GOOD_AUDIENCE + GOOD_AUDIENCE.replace(SP, "other"), GOOD_SUBJECT, IDP, NOW, "saml_audience"),
        (GOOD_AUDIENCE, GOOD_SUBJECT.replace(ACS, ACS + "/x"), IDP, NOW, "saml_recipient"),
        (
            GOOD_AUDIENCE,
            GOOD_SUBJECT.replace('InResponseTo="_q"', 'InResponseTo="_z"'),
            IDP,
            NOW,
            "saml_in_response_to",
        ),
        (GOOD_AUDIENCE, "", IDP, NOW, "saml_subject_confirmation"),
        (GOOD_AUDIENCE, GOOD_SUBJECT, "https://other-idp.test", NOW, "saml_issuer"),
        (GOOD_AUDIENCE, GOOD_SUBJECT, IDP, NOW + timedelta(minutes=8), "saml_expired"),
        (GOOD_AUDIENCE, GOOD_SUBJECT, IDP, NOW - timedelta(minutes=8), "saml_not_yet_valid"),
    ],
)
def test_checks_refuse_with_a_stable_code(conditions, subject, issuer, expected_now, reason) -> None:  # type: ignore[no-untyped-def]
    root = assertion(conditions, subject, issuer)
    expected = checks.Expected(sp_entity_id=SP, acs_url=ACS, idp_entity_id=IDP, now=expected_now)
    assert code(checks.check_verified_response, root, root, expected) == reason


def test_clock_skew_of_two_minutes_is_tolerated() -> None:
    root = assertion(GOOD_AUDIENCE, GOOD_SUBJECT)
    late = checks.Expected(sp_entity_id=SP, acs_url=ACS, idp_entity_id=IDP, now=NOW + timedelta(minutes=6))
    checks.check_verified_response(root, root, late)


def test_destination_must_equal_the_acs_url() -> None:
    root = assertion(GOOD_AUDIENCE, GOOD_SUBJECT)
    root.set("Destination", ACS + "?x")
    assert code(checks.check_verified_response, root, root, EXPECTED) == "saml_destination"


def test_two_assertions_or_a_nested_one_are_refused() -> None:
    root = assertion(GOOD_AUDIENCE, GOOD_SUBJECT)
    inner = root.find(f"{{{checks.SAML}}}Assertion")
    copy = etree.fromstring(etree.tostring(inner))
    copy.set("ID", "_b")
    root.append(copy)
    assert code(checks.check_response_shape, root) == "saml_structure"
    root.remove(copy)
    inner.find(f"{{{checks.SAML}}}Subject").append(copy)
    assert code(checks.check_response_shape, root) == "saml_structure"


def test_duplicate_ids_are_refused() -> None:
    root = assertion(GOOD_AUDIENCE, GOOD_SUBJECT)
    root.set("ID", "_a")
    assert code(checks.check_response_shape, root) == "saml_structure"
