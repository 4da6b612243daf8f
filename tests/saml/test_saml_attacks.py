"""The attack suite: every hostile response is refused with a page (no stack trace), no session is created,
and the refusal is audited. Responses are signed for real by the independent test IdP before being tampered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from saml_attacks import (
    ASSERTION_WRAPPING,
    RESPONSE_WRAPPING,
    comment_in_name_id,
    strip_assertion_signature,
    strip_response_signature,
)
from saml_helpers import CLI, SamlSetup, add_saml_connection
from saml_idp import (
    ATTACKER_KEY,
    IDP_NEW_KEY,
    RSA_SHA1,
    SAML,
    SHA1,
    b64,
    deflate_b64,
    post_acs,
    q,
    reason,
    start_login,
)

from gateway.app import create_app
from gateway.domain import model as m
from gateway.services import Services
from tests.signout import sign_out

ATTACKER = "mallory@acme.test"
VICTIM = "admin@acme.test"


@pytest.fixture
def victim(okta: SamlSetup, app_services: Services) -> m.Member:
    return app_services.members.add_admin(okta.org.id, VICTIM, CLI)


def assert_refused(
    client: FlaskClient, answer, app_services: Services, org_id: str, status: int = 403
) -> str:  # type: ignore[no-untyped-def]
    """Refused with an HTML page and a reason, no session cookie, nobody signed in, and audited."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/html")
    body = answer.get_data(as_text=True)
    assert "Traceback" not in body
    assert not any(c.startswith("gw_session=") for c in answer.headers.getlist("Set-Cookie"))
    assert client.get("/me").status_code == 401
    events, _ = app_services.audit.list(org_id, action="sign_in.refused")
    code = reason(answer)
    assert code and events and events[0].details["reason"] == code
    return code


def signed_for_attacker(client: FlaskClient, okta: SamlSetup, **kwargs) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    request_id, relay = start_login(client, okta.slug)
    return okta.response(ATTACKER, in_response_to=request_id, **kwargs), relay or "/me"


@pytest.mark.parametrize("variant", sorted(ASSERTION_WRAPPING))
def test_assertion_signature_wrapping_is_refused(
    client: FlaskClient, okta: SamlSetup, victim: m.Member, app_services: Services, variant: str
) -> None:
    signed, relay = signed_for_attacker(client, okta)
    answer = post_acs(client, okta.slug, ASSERTION_WRAPPING[variant](signed, VICTIM), relay)
    assert_refused(client, answer, app_services, okta.org.id)


@pytest.mark.parametrize("variant", sorted(RESPONSE_WRAPPING))
def test_response_signature_wrapping_is_refused(
    client: FlaskClient, okta: SamlSetup, victim: m.Member, app_services: Services, variant: str
) -> None:
    signed, relay = signed_for_attacker(client, okta, sign_response=True)
    answer = post_acs(client, okta.slug, RESPONSE_WRAPPING[variant](signed, VICTIM), relay)
    assert_refused(client, answer, app_services, okta.org.id)


def test_the_unwrapped_responses_are_accepted(client: FlaskClient, okta: SamlSetup) -> None:
    """Control for the wrapping tests: the same responses, untouched, sign the attacker in as themselves."""
    signed, relay = signed_for_attacker(client, okta, sign_response=True)
    assert post_acs(client, okta.slug, signed, relay).status_code == 303
    assert client.get("/me").get_json()["email"] == ATTACKER


def test_signature_stripped_from_the_assertion_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    signed, relay = signed_for_attacker(client, okta)
    answer = post_acs(client, okta.slug, strip_assertion_signature(signed), relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_signature"


def test_signature_stripped_from_assertion_and_response_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    signed, relay = signed_for_attacker(client, okta, sign_response=True)
    unsigned = strip_response_signature(strip_assertion_signature(signed))
    answer = post_acs(client, okta.slug, unsigned, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_signature"


def test_response_signed_only_at_the_response_level_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    signed, relay = signed_for_attacker(client, okta, sign_assertion=False, sign_response=True)
    answer = post_acs(client, okta.slug, signed, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_signature"


def test_response_resigned_with_a_key_whose_certificate_is_in_keyinfo_is_refused(
    client: FlaskClient, okta: SamlSetup, victim: m.Member, app_services: Services
) -> None:
    request_id, relay = start_login(client, okta.slug)
    forged = okta.response(VICTIM, in_response_to=request_id, key=ATTACKER_KEY, sign_response=True)
    assert ATTACKER_KEY.cert_b64[:40] in forged.decode()
    answer = post_acs(client, okta.slug, forged, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_signature"


def test_comment_injected_into_name_id_does_not_truncate_the_identity(
    client: FlaskClient, okta: SamlSetup, victim: m.Member, app_services: Services
) -> None:
    request_id, relay = start_login(client, okta.slug)
    signed = okta.response(f"{VICTIM}.evil.test", in_response_to=request_id)
    answer = post_acs(client, okta.slug, comment_in_name_id(signed, VICTIM), relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_comment"


def test_replayed_assertion_is_refused(client: FlaskClient, okta: SamlSetup, app_services: Services) -> None:
    signed, relay = signed_for_attacker(client, okta)
    assert post_acs(client, okta.slug, signed, relay).status_code == 303
    sign_out(client)
    answer = post_acs(client, okta.slug, signed, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_replay"


def test_replay_through_a_second_gateway_process_on_the_same_database_is_refused(
    app: Flask, client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    signed, relay = signed_for_attacker(client, okta)
    assert post_acs(client, okta.slug, signed, relay).status_code == 303
    second = create_app(settings=app.extensions["gateway.settings"], clock=app_services.clock)
    try:
        other_client = second.test_client()
        answer = post_acs(other_client, okta.slug, signed, relay)
        assert assert_refused(other_client, answer, app_services, okta.org.id) == "saml_replay"
    finally:
        second.extensions["gateway.services"].db.dispose()


def _shift_times(root: etree._Element, delta: timedelta) -> None:
    for element in root.iter():
        for attribute in ("NotBefore", "NotOnOrAfter", "IssueInstant", "AuthnInstant"):
            value = element.get(attribute)
            if value:
                moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
                element.set(attribute, moved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


TAMPERING: dict[str, tuple[Callable[[etree._Element], None], set[str]]] = {
    "expired": (lambda r: _shift_times(r, timedelta(hours=-2)), {"saml_expired"}),
    "not_yet_valid": (lambda r: _shift_times(r, timedelta(hours=2)), {"saml_not_yet_valid"}),
    "wrong_audience": (
        lambda r: [
            a.__setattr__("text", "https://other-sp.test/metadata") for a in r.iter(q(SAML, "Audience"))
        ],
        {"saml_audience"},
    ),
    "wrong_recipient": (
        lambda r: [
            s.set("Recipient", "https://other-sp.test/acs")
            for s in r.iter(q(SAML, "SubjectConfirmationData"))
        ],
        {"saml_recipient", "saml_subject_confirmation"},
    ),
    "wrong_issuer": (
        lambda r: [i.__setattr__("text", "https://idp.other.test/") for i in r.iter(q(SAML, "Issuer"))],
        {"saml_issuer"},
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_response_outside_its_conditions_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services, case: str
) -> None:
    mutate, codes = TAMPERING[case]
    signed, relay = signed_for_attacker(client, okta, mutate=mutate)
    answer = post_acs(client, okta.slug, signed, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) in codes


def test_assertion_expired_on_the_gateway_clock_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services, clock
) -> None:  # type: ignore[no-untyped-def]
    """The gateway checks the time window on its own (injected) clock, not only python3-saml's wall clock."""
    signed, relay = signed_for_attacker(client, okta)
    clock.advance(minutes=30)
    answer = post_acs(client, okta.slug, signed, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_expired"


def test_wrong_in_response_to_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    start_login(client, okta.slug)
    signed = okta.response(ATTACKER, in_response_to="ONELOGIN_not_a_request_we_sent")
    answer = post_acs(client, okta.slug, signed)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_unknown_request"


def test_in_response_to_of_another_connection_is_refused(
    app: Flask, client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    other = add_saml_connection(
        app, client, okta.org, name="second", entity_id="https://idp.acme.test/second"
    )
    request_id, _ = start_login(client, other.slug)
    signed = okta.response(ATTACKER, in_response_to=request_id)
    answer = post_acs(client, okta.slug, signed)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_unknown_request"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"
 IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&xxe;</saml:Issuer>
</samlp:Response>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0">&lol4;</samlp:Response>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS], ids=["xxe", "entity_expansion"])
def test_xml_entities_are_refused_before_anything_else(
    client: FlaskClient, okta: SamlSetup, app_services: Services, payload: bytes
) -> None:
    answer = post_acs(client, okta.slug, payload)
    assert assert_refused(client, answer, app_services, okta.org.id, status=400) == "saml_dtd"
    assert "root:" not in answer.get_data(as_text=True)


def test_entity_in_a_signed_response_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    signed, relay = signed_for_attacker(client, okta)
    doctype = b'<!DOCTYPE r [<!ENTITY e "x">]>'
    body = signed.split(b"?>", 1)[-1] if signed.startswith(b"<?xml") else signed
    answer = post_acs(client, okta.slug, doctype + body, relay)
    assert assert_refused(client, answer, app_services, okta.org.id, status=400) == "saml_dtd"


def test_deflate_bomb_on_the_redirect_binding_is_refused(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    bomb = deflate_b64(b"<" + b"A" * (64 * 1024 * 1024))
    assert len(bomb) < 200_000
    answer = client.get(f"/saml/{okta.slug}/slo", query_string={"SAMLRequest": bomb})
    assert assert_refused(client, answer, app_services, okta.org.id, status=400) == "saml_message_too_large"


def test_oversized_post_is_refused_before_parsing(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    answer = client.post(
        f"/saml/{okta.slug}/acs", data={"SAMLResponse": b64(b"<a>" + b"x" * 400_000 + b"</a>")}
    )
    assert assert_refused(client, answer, app_services, okta.org.id, status=400) == "saml_message_too_large"


def test_garbage_is_a_clear_400(client: FlaskClient, okta: SamlSetup, app_services: Services) -> None:
    for value in ("not base64!!", b64(b"<not-closed"), b64(b"<x/>")):
        answer = client.post(f"/saml/{okta.slug}/acs", data={"SAMLResponse": value})
        assert answer.status_code == 400
        assert reason(answer) == "saml_malformed"
    assert assert_refused(client, client.post(f"/saml/{okta.slug}/acs"), app_services, okta.org.id, 400)


def test_sha1_signatures_are_refused(client: FlaskClient, okta: SamlSetup, app_services: Services) -> None:
    signed, relay = signed_for_attacker(client, okta, sign_alg=RSA_SHA1, digest_alg=SHA1)
    answer = post_acs(client, okta.slug, signed, relay)
    assert assert_refused(client, answer, app_services, okta.org.id) == "saml_signature_algorithm"


def test_assertion_for_one_org_posted_to_another_orgs_acs_is_refused(
    app: Flask, client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    globex_org = app_services.orgs.create("Globex", m.MembershipMode.SSO, CLI, domains=["globex.test"]).org
    globex = add_saml_connection(app, client, globex_org, keys=(IDP_NEW_KEY,), signer=IDP_NEW_KEY)
    # Acme's genuine response, replayed at Globex's ACS.
    signed, _ = signed_for_attacker(client, okta)
    answer = post_acs(client, globex.slug, signed)
    assert_refused(client, answer, app_services, globex_org.id)
    # Acme's IdP signing a response that names Globex's ACS and audience, for a Globex address.
    request_id, _ = start_login(client, globex.slug)
    forged = okta.response(
        "ceo@globex.test",
        acs=globex.acs,
        in_response_to=request_id,
        mutate=lambda r: [a.__setattr__("text", globex.audience) for a in r.iter(q(SAML, "Audience"))],
    )
    answer = post_acs(client, globex.slug, forged)
    assert assert_refused(client, answer, app_services, globex_org.id) in {"saml_issuer", "saml_signature"}
