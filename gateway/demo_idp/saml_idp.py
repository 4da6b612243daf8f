"""The demo IdP's SAML 2.0 protocol core: read an AuthnRequest (HTTP-Redirect binding) and answer it with a
Response whose assertion is signed (RSA-SHA256, exclusive c14n) with the key of ``gateway.services.demo_saml``.

No Flask here: the routes (``saml_routes``) turn HTTP into these calls and show :class:`SamlRequestError`
to the person. Like the OIDC side, the demo IdP registers no service providers: it answers only the
gateway's own SAML connections, recognised by their URLs under the public URL (the ACS
``/saml/<connection>/acs`` and, as the issuer, the SP entity ID ``/saml/<connection>/metadata``), so a
signed assertion can never be sent anywhere else.

What the gateway's strict validation needs is what a real IdP sends (SAML 2.0 Web Browser SSO profile):
``Destination`` and the bearer ``Recipient`` equal to the ACS URL, ``InResponseTo`` of the request on the
Response and on the confirmation, the SP entity ID as ``Audience``, ``NotBefore``/``NotOnOrAfter`` around
the issue instant, the email as an emailAddress NameID and as attributes named as the generic preset reads
them (``email``, ``firstName``, ``lastName``).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from gateway.services.base import Clock
from gateway.services.demo_directory import DemoPerson, saml_entity_id, saml_sso_url
from gateway.services.demo_saml import SamlSigningKey, idp_metadata
from gateway.services.saml_connections import BINDING_POST, NAMEID_EMAIL

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

# How long the assertion may be presented: long enough for a slow browser, short as real IdPs keep it.
ASSERTION_LIFETIME = timedelta(minutes=5)
MAX_REQUEST_BYTES = 64 * 1024
MAX_RELAY_STATE = 2048
SP_PATH = re.compile(r"^/saml/(?P<slug>[a-z0-9][a-z0-9-]{0,62})/acs$")


class SamlRequestError(Exception):
    """An AuthnRequest the demo IdP will not answer; shown to the person (there is no trusted ACS to tell)."""

    error = "invalid_saml_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        self.status = 400


@dataclass(frozen=True)
class SamlAuthnRequest:
    id: str
    sp_entity_id: str
    acs_url: str
    saml_request: str  # as received, carried through the sign-in page's form
    relay_state: str | None

    def as_form(self) -> dict[str, str]:
        values = {"SAMLRequest": self.saml_request, "RelayState": self.relay_state}
        return {k: v for k, v in values.items() if v is not None}


def _inflate(value: str) -> bytes:
    """The Redirect binding's base64 of raw DEFLATE, bounded (a few KiB must not inflate to gigabytes)."""
    if len(value) > MAX_REQUEST_BYTES:
        raise SamlRequestError("The SAMLRequest is larger than the demo identity provider accepts.")
    try:
        compressed = base64.b64decode("".join(value.split()), validate=True)
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(compressed, MAX_REQUEST_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        raise SamlRequestError(
            "The SAMLRequest is not base64 of DEFLATE data (HTTP-Redirect binding)."
        ) from None
    if len(data) > MAX_REQUEST_BYTES or inflater.unconsumed_tail:
        raise SamlRequestError("The SAMLRequest inflates beyond what the demo identity provider accepts.")
    return data


def _parse(xml: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        raise SamlRequestError("The SAMLRequest is not well-formed XML.") from None
    if root.getroottree().docinfo.doctype or b"<!ENTITY" in xml:
        raise SamlRequestError("The SAMLRequest must not contain a DOCTYPE or entity declarations.")
    return root


def _instant(when: datetime) -> str:
    """xs:dateTime in UTC, as SAML requires (SAML core §1.3.3)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DemoSamlIdp:
    def __init__(self, *, public_url: str, key: SamlSigningKey, clock: Clock) -> None:
        self.public_url = public_url.rstrip("/")
        self.entity_id = saml_entity_id(public_url)
        self.sso_url = saml_sso_url(public_url)
        self.key = key
        self.clock = clock

    def metadata(self) -> bytes:
        return idp_metadata(self.public_url, self.key.cert)

    # -- the AuthnRequest ----------------------------------------------------------------------------------
    def acs_allowed(self, acs_url: str) -> str | None:
        """The connection slug when ``acs_url`` is exactly one of the gateway's own ACS URLs."""
        base, target = urlsplit(self.public_url), urlsplit(acs_url)
        prefix = base.path.rstrip("/")
        if (target.scheme, target.netloc) != (base.scheme, base.netloc) or target.query or target.fragment:
            return None
        if not target.path.startswith(prefix + "/"):
            return None
        found = SP_PATH.match(target.path[len(prefix) :])
        return found.group("slug") if found else None

    def authn_request(self, saml_request: str | None, relay_state: str | None) -> SamlAuthnRequest:
        """Check an AuthnRequest from the gateway: well-formed, SAML 2.0, for this IdP, from one of the gateway's
        SAML connections, answered over HTTP-POST to that connection's ACS."""
        if not saml_request:
            raise SamlRequestError("No SAMLRequest was sent: start the sign-in at the gateway.")
        if relay_state is not None and len(relay_state) > MAX_RELAY_STATE:
            raise SamlRequestError("The RelayState is too long.")
        root = _parse(_inflate(saml_request))
        if root.tag != f"{{{SAMLP}}}AuthnRequest" or root.get("Version") != "2.0":
            raise SamlRequestError("The SAMLRequest is not a SAML 2.0 AuthnRequest.")
        request_id = root.get("ID") or ""
        if not request_id or len(request_id) > 256:
            raise SamlRequestError("The AuthnRequest has no ID.")
        destination = root.get("Destination")
        if destination is not None and destination != self.sso_url:
            raise SamlRequestError(
                f"The AuthnRequest is addressed to {destination!r}, not to {self.sso_url}."
            )
        binding = root.get("ProtocolBinding")
        if binding is not None and binding != BINDING_POST:
            raise SamlRequestError("The demo identity provider answers over the HTTP-POST binding only.")
        acs_url = root.get("AssertionConsumerServiceURL") or ""
        slug = self.acs_allowed(acs_url)
        if slug is None:
            raise SamlRequestError(
                f"The AssertionConsumerServiceURL {acs_url!r} is not one of this gateway's SAML connections "
                f"under {self.public_url}."
            )
        issuer = root.find(f"{{{SAML}}}Issuer")
        sp_entity_id = (issuer.text or "").strip() if issuer is not None else ""
        if sp_entity_id != f"{self.public_url}/saml/{slug}/metadata":
            raise SamlRequestError("The AuthnRequest's Issuer is not the connection whose ACS URL it names.")
        return SamlAuthnRequest(request_id, sp_entity_id, acs_url, saml_request, relay_state)

    # -- the Response --------------------------------------------------------------------------------------
    def response(self, request: SamlAuthnRequest, person: DemoPerson) -> str:
        """The base64 SAMLResponse (HTTP-POST binding) that signs ``person`` in, its assertion signed."""
        now = self.clock().replace(microsecond=0)
        until = now + ASSERTION_LIFETIME
        assertion = self._signed_assertion(request, person, now, until)
        response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML})
        response.set("ID", _new_id())
        response.set("Version", "2.0")
        response.set("IssueInstant", _instant(now))
        response.set("Destination", request.acs_url)
        response.set("InResponseTo", request.id)
        etree.SubElement(response, f"{{{SAML}}}Issuer").text = self.entity_id
        status = etree.SubElement(response, f"{{{SAMLP}}}Status")
        etree.SubElement(status, f"{{{SAMLP}}}StatusCode", Value=SUCCESS)
        response.append(assertion)
        return base64.b64encode(etree.tostring(response, xml_declaration=True, encoding="UTF-8")).decode()

    def _signed_assertion(
        self, request: SamlAuthnRequest, person: DemoPerson, now: datetime, until: datetime
    ) -> etree._Element:
        """The assertion, signed on its own (enveloped, referencing its ID) before it joins the Response:
        exclusive c14n makes the signature independent of where it is embedded."""
        assertion = etree.Element(f"{{{SAML}}}Assertion", nsmap={"saml": SAML, "xs": XS, "xsi": XSI})
        assertion.set("ID", _new_id())
        assertion.set("Version", "2.0")
        assertion.set("IssueInstant", _instant(now))
        etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = self.entity_id
        subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
        etree.SubElement(subject, f"{{{SAML}}}NameID", Format=NAMEID_EMAIL).text = person.email
        confirmation = etree.SubElement(subject, f"{{{SAML}}}SubjectConfirmation", Method=CM_BEARER)
        etree.SubElement(
            confirmation,
            f"{{{SAML}}}SubjectConfirmationData",
            InResponseTo=request.id,
            NotOnOrAfter=_instant(until),
            Recipient=request.acs_url,
        )
        conditions = etree.SubElement(
            assertion, f"{{{SAML}}}Conditions", NotBefore=_instant(now), NotOnOrAfter=_instant(until)
        )
        restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
        etree.SubElement(restriction, f"{{{SAML}}}Audience").text = request.sp_entity_id
        statement = etree.SubElement(
            assertion, f"{{{SAML}}}AuthnStatement", AuthnInstant=_instant(now), SessionIndex=_new_id()
        )
        context = etree.SubElement(statement, f"{{{SAML}}}AuthnContext")
        etree.SubElement(context, f"{{{SAML}}}AuthnContextClassRef").text = AUTHN_CONTEXT
        attributes = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
        for name, value in (
            ("email", person.email),
            ("firstName", person.given_name),
            ("lastName", person.family_name),
        ):
            if not value:
                continue
            attribute = etree.SubElement(attributes, f"{{{SAML}}}Attribute", Name=name)
            attribute.set("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
            element = etree.SubElement(attribute, f"{{{SAML}}}AttributeValue")
            element.set(f"{{{XSI}}}type", "xs:string")
            element.text = value
        signed = OneLogin_Saml2_Utils.add_sign(
            etree.tostring(assertion),
            self.key.key_pem,
            OneLogin_Saml2_Utils.format_cert(self.key.cert),
            sign_algorithm=RSA_SHA256,
            digest_algorithm=SHA256,
        )
        return etree.fromstring(signed if isinstance(signed, bytes) else signed.encode())


def _new_id() -> str:
    """An xs:ID (must not start with a digit) that nobody can guess."""
    return "_" + secrets.token_hex(20)
