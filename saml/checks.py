"""The checks the gateway makes itself, around python3-saml, for the gaps python3-saml leaves open.

Pure functions over bytes and lxml trees (no Flask, no database, time passed in), each raising
:class:`SamlRefused` with a stable code:

- size limits before any parsing, and a bounded inflate for the HTTP-Redirect binding;
- XML parsed without DTDs or entities;
- the shape of a Response before signature checks: one assertion, directly under the Response, unique IDs,
  signatures only on the Response or the Assertion, referencing their parent, with the expected transforms
  and algorithms only (no XSLT or XPath transforms reaching xmlsec, GHSA-8mmq-f9vf-8fg2);
- after python3-saml verified the signatures: an ``AudienceRestriction`` naming this SP, ``Destination`` and
  ``Recipient`` equal to the configured ACS URL (python3-saml compares a prefix and a substring), the time
  window on the gateway's own clock, and the ``InResponseTo`` the response claims.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from gateway.services.saml_connections import SamlRefused

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

# A SAML response from any of the supported IdPs is a few KiB; 256 KiB leaves room for large group lists.
MAX_MESSAGE_BYTES = 256 * 1024
CLOCK_SKEW = timedelta(minutes=2)

ALLOWED_TRANSFORMS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    }
)
ALLOWED_C14N = frozenset(
    {
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    }
)
ALLOWED_SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
ALLOWED_DIGESTS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)


def refuse(code: str, message: str) -> SamlRefused:
    return SamlRefused(code, message)


# -- transport -------------------------------------------------------------------------------------------


def decode_post_message(value: str | None, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """A base64 HTTP-POST binding parameter, refused before decoding when it could exceed ``max_bytes``."""
    if not value:
        raise refuse("saml_missing_message", "No SAML message was posted.")
    if len(value) > (max_bytes * 4) // 3 + 64:
        raise refuse("saml_message_too_large", "The SAML message is larger than the gateway accepts.")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("saml_malformed", "The SAML message is not valid base64.") from None
    if len(data) > max_bytes:
        raise refuse("saml_message_too_large", "The SAML message is larger than the gateway accepts.")
    return data


def inflate_redirect_message(value: str | None, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """An HTTP-Redirect binding parameter (base64 of raw DEFLATE), inflated to at most ``max_bytes``.

    python3-saml inflates without any bound, so a few KiB of query string could become gigabytes."""
    compressed = decode_post_message(value, max_bytes)
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise refuse("saml_malformed", "The SAML message is not valid DEFLATE data.") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise refuse("saml_message_too_large", "The SAML message inflates beyond what the gateway accepts.")
    return data


def parse_xml(data: bytes) -> etree._Element:
    """Parse a SAML message with no DTD, no entities and no network; a DOCTYPE is refused outright."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise refuse("saml_malformed", "The SAML message is not well-formed XML.") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or b"<!ENTITY" in data:
        raise refuse("saml_dtd", "The SAML message contains a DOCTYPE or entity declarations.")
    return root


# -- shape, before any signature is checked --------------------------------------------------------------


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _all(root: etree._Element, *tags: str) -> list[etree._Element]:
    """Every element with one of ``tags`` (plain ``iter()``: python3-saml's restricted element class, used for
    decrypted documents, does not take tag arguments)."""
    return [el for el in root.iter() if el.tag in tags]


def check_signature_shape(signature: etree._Element) -> None:
    """One reference to the parent's ID, with only the expected transforms and algorithms."""
    parent = signature.getparent()
    signed_info = signature.find(_q(DS, "SignedInfo"))
    if signed_info is None:
        raise refuse("saml_signature", "A signature has no SignedInfo.")
    c14n = signed_info.find(_q(DS, "CanonicalizationMethod"))
    if c14n is None or c14n.get("Algorithm") not in ALLOWED_C14N:
        raise refuse("saml_signature_transform", "A signature uses an unexpected canonicalization.")
    method = signed_info.find(_q(DS, "SignatureMethod"))
    if method is None or method.get("Algorithm") not in ALLOWED_SIGNATURE_METHODS:
        raise refuse(
            "saml_signature_algorithm",
            "A signature uses an algorithm the gateway refuses (SHA-1 and unknown algorithms are refused).",
        )
    references = signed_info.findall(_q(DS, "Reference"))
    if len(references) != 1 or parent is None or references[0].get("URI") != f"#{parent.get('ID')}":
        raise refuse("saml_signature", "A signature must reference exactly the element that carries it.")
    digest = references[0].find(_q(DS, "DigestMethod"))
    if digest is None or digest.get("Algorithm") not in ALLOWED_DIGESTS:
        raise refuse(
            "saml_signature_algorithm",
            "A signature uses a digest the gateway refuses (SHA-1 and unknown digests are refused).",
        )
    transforms = references[0].find(_q(DS, "Transforms"))
    for transform in [] if transforms is None else list(transforms):
        if transform.tag != _q(DS, "Transform") or transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
            raise refuse(
                "saml_signature_transform",
                "A signature uses a transform the gateway refuses (only enveloped-signature and c14n).",
            )
        if len(transform):
            raise refuse("saml_signature_transform", "A signature transform carries unexpected content.")


def check_response_shape(root: etree._Element) -> None:
    """Refuse the structures XML signature wrapping needs before python3-saml looks at signatures."""
    if root.tag != _q(SAMLP, "Response"):
        raise refuse("saml_malformed", "The SAML message is not a Response.")
    assertions = _all(root, _q(SAML, "Assertion"), _q(SAML, "EncryptedAssertion"))
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise refuse("saml_structure", "The response must carry exactly one assertion, directly inside it.")
    check_assertion_shape(root)


def check_assertion_shape(root: etree._Element) -> None:
    """Unique IDs, no comments in the assertion, signatures only on the Response or the Assertion."""
    ids = Counter(el.get("ID") for el in root.iter() if isinstance(el.tag, str) and el.get("ID") is not None)
    if any(count > 1 for count in ids.values()):
        raise refuse("saml_structure", "Two elements of the response carry the same ID.")
    assertions = _all(root, _q(SAML, "Assertion"))
    if len(assertions) > 1:
        raise refuse("saml_structure", "The response must carry exactly one assertion.")
    for assertion in assertions:
        if any(el.tag in (etree.Comment, etree.ProcessingInstruction) for el in assertion.iter()):
            raise refuse("saml_comment", "The assertion contains XML comments or processing instructions.")
    for signature in _all(root, _q(DS, "Signature")):
        parent = signature.getparent()
        if parent is None or parent.tag not in (_q(SAMLP, "Response"), _q(SAML, "Assertion")):
            raise refuse(
                "saml_structure", "A signature sits somewhere other than on the Response or Assertion."
            )
        check_signature_shape(signature)


# -- after the signatures were verified ------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a response must say to be for this connection, right now."""

    sp_entity_id: str
    acs_url: str
    idp_entity_id: str
    now: datetime


@dataclass(frozen=True)
class VerifiedFacts:
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: datetime | None


def parse_instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise refuse("saml_malformed", f"Not a SAML time: {value!r}.") from None
    if parsed.tzinfo is None:
        raise refuse("saml_malformed", f"A SAML time must be in UTC: {value!r}.")
    return parsed


def _the_assertion(root: etree._Element) -> etree._Element:
    assertions = _all(root, _q(SAML, "Assertion"))
    if len(assertions) != 1:
        raise refuse("saml_structure", "The response must carry exactly one assertion.")
    return assertions[0]


def check_audience(assertion: etree._Element, expected: Expected) -> None:
    """At least one AudienceRestriction, and every one of them names this SP (python3-saml accepts none)."""
    restrictions = assertion.findall(f"{_q(SAML, 'Conditions')}/{_q(SAML, 'AudienceRestriction')}")
    if not restrictions:
        raise refuse(
            "saml_audience", "The assertion has no AudienceRestriction; it could be meant for anyone."
        )
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.findall(_q(SAML, "Audience"))]
        if expected.sp_entity_id not in audiences:
            raise refuse("saml_audience", "The assertion is meant for another service provider.")


def check_destination(response: etree._Element, expected: Expected) -> None:
    """``Destination``, when present, is exactly the configured ACS URL (python3-saml accepts a prefix)."""
    destination = response.get("Destination")
    if destination is not None and destination != expected.acs_url:
        raise refuse("saml_destination", "The response was sent to another address than this connection's.")


def check_subject_confirmation(
    assertion: etree._Element, expected: Expected, in_response_to: str | None
) -> datetime:
    """Every bearer confirmation names exactly the ACS URL, is within its window and answers the same request;
    returns the latest ``NotOnOrAfter`` (how long the assertion ID must stay in the replay cache)."""
    confirmations = [
        c
        for c in assertion.findall(f"{_q(SAML, 'Subject')}/{_q(SAML, 'SubjectConfirmation')}")
        if c.get("Method") == CM_BEARER
    ]
    if not confirmations:
        raise refuse("saml_subject_confirmation", "The assertion has no bearer subject confirmation.")
    latest: datetime | None = None
    for confirmation in confirmations:
        data = confirmation.find(_q(SAML, "SubjectConfirmationData"))
        if data is None:
            raise refuse("saml_subject_confirmation", "A bearer confirmation carries no data.")
        if data.get("Recipient") != expected.acs_url:
            raise refuse(
                "saml_recipient", "The assertion names another recipient than this connection's ACS URL."
            )
        if data.get("InResponseTo") != in_response_to:
            raise refuse("saml_in_response_to", "The assertion and the response answer different requests.")
        not_after = data.get("NotOnOrAfter")
        if not not_after:
            raise refuse("saml_subject_confirmation", "A bearer confirmation has no NotOnOrAfter.")
        until = parse_instant(not_after)
        if expected.now >= until + CLOCK_SKEW:
            raise refuse("saml_expired", "The assertion has expired.")
        not_before = data.get("NotBefore")
        if not_before and expected.now + CLOCK_SKEW < parse_instant(not_before):
            raise refuse("saml_not_yet_valid", "The assertion is not valid yet.")
        latest = until if latest is None or until > latest else latest
    assert latest is not None
    return latest


def check_conditions_window(assertion: etree._Element, expected: Expected) -> datetime | None:
    conditions = assertion.find(_q(SAML, "Conditions"))
    if conditions is None:
        raise refuse("saml_malformed", "The assertion has no Conditions.")
    not_before = conditions.get("NotBefore")
    if not_before and expected.now + CLOCK_SKEW < parse_instant(not_before):
        raise refuse("saml_not_yet_valid", "The assertion is not valid yet.")
    not_after = conditions.get("NotOnOrAfter")
    if not_after:
        until = parse_instant(not_after)
        if expected.now >= until + CLOCK_SKEW:
            raise refuse("saml_expired", "The assertion has expired.")
        return until
    return None


def check_issuer(response: etree._Element, assertion: etree._Element, expected: Expected) -> None:
    """The assertion (and the response, if it names one) come from this connection's IdP."""
    issuer = assertion.find(_q(SAML, "Issuer"))
    if issuer is None or (issuer.text or "").strip() != expected.idp_entity_id:
        raise refuse("saml_issuer", "The assertion was issued by another identity provider.")
    response_issuer = response.find(_q(SAML, "Issuer"))
    if response_issuer is not None and (response_issuer.text or "").strip() != expected.idp_entity_id:
        raise refuse("saml_issuer", "The response was issued by another identity provider.")


def check_verified_response(
    response: etree._Element, assertion_root: etree._Element, expected: Expected
) -> VerifiedFacts:
    """The checks python3-saml leaves to the gateway, on the verified (and decrypted) response."""
    assertion = _the_assertion(assertion_root)
    assertion_id = assertion.get("ID")
    if not assertion_id:
        raise refuse("saml_malformed", "The assertion has no ID.")
    in_response_to = response.get("InResponseTo")
    check_destination(response, expected)
    check_issuer(response, assertion, expected)
    check_audience(assertion, expected)
    conditions_until = check_conditions_window(assertion, expected)
    confirmation_until = check_subject_confirmation(assertion, expected, in_response_to)
    candidates = [t for t in (conditions_until, confirmation_until) if t is not None]
    return VerifiedFacts(
        assertion_id=assertion_id,
        in_response_to=in_response_to,
        not_on_or_after=max(candidates) if candidates else None,
    )


def check_logout_message(root: etree._Element, tag: str, slo_url: str, idp_entity_id: str) -> None:
    """A LogoutRequest / LogoutResponse for this connection: the expected element, ``Destination`` equal to
    the SLO URL (python3-saml accepts a substring) and issued by the connection's IdP."""
    if root.tag != _q(SAMLP, tag):
        raise refuse("saml_malformed", f"The SAML message is not a {tag}.")
    if root.get("Destination") is not None and root.get("Destination") != slo_url:
        raise refuse(
            "saml_destination", "The logout message was sent to another address than this connection's."
        )
    issuer = root.find(_q(SAML, "Issuer"))
    if issuer is None or (issuer.text or "").strip() != idp_entity_id:
        raise refuse("saml_issuer", "The logout message was issued by another identity provider.")
