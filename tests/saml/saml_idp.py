"""A test identity provider that is not python3-saml: pysaml2 builds the responses, Debian's ``xmlsec1`` signs.

Responses are built unsigned, optionally changed by a ``mutate`` callback (to craft attacks or odd vendors'
shapes), then signed, so a test can sign exactly what it means to.
"""

from __future__ import annotations

import base64
import re
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAME_FORMAT_UNSPECIFIED, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import ASSERT_XPATH, pre_encryption_part, pre_signature_part

FIXTURES = Path(__file__).parent / "fixtures"
KEYS = FIXTURES / "keys"

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


@dataclass(frozen=True)
class SigningKey:
    name: str

    @property
    def key_file(self) -> str:
        return str(KEYS / f"{self.name}.key")

    @property
    def cert_file(self) -> str:
        return str(KEYS / f"{self.name}.crt")

    @property
    def cert_b64(self) -> str:
        pem = Path(self.cert_file).read_text()
        return "".join(line for line in pem.splitlines() if "-----" not in line)


IDP_KEY = SigningKey("idp")
IDP_NEW_KEY = SigningKey("idp-new")
ATTACKER_KEY = SigningKey("attacker")

Mutation = Callable[[etree._Element], None]


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def idp_metadata(entity_id: str, keys: tuple[SigningKey, ...] = (IDP_KEY,), *, slo: bool = True) -> bytes:
    """SAML metadata of an IdP at ``entity_id`` advertising ``keys`` for signing."""
    base = entity_id.rstrip("/")
    key_descriptors = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{k.cert_b64}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for k in keys
    )
    slo_service = (
        f'<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="{base}/slo"/>' if slo else ""
    )
    return (
        '<?xml version="1.0"?>'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="{DS}" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key_descriptors}{slo_service}"
        f"<md:NameIDFormat>{NAMEID_FORMAT_EMAILADDRESS}</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{base}/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ).encode()


class TestIdP:
    """One identity provider (an entity ID) that knows one SP from the SP's own metadata."""

    __test__ = False

    def __init__(self, entity_id: str, sp_metadata: str, *, key: SigningKey = IDP_KEY) -> None:
        self.entity_id = entity_id
        self.key = key
        self.sso_url = f"{entity_id.rstrip('/')}/sso"
        self.slo_url = f"{entity_id.rstrip('/')}/slo"
        config = {
            "entityid": entity_id,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_UNSPECIFIED}},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                }
            },
            "key_file": key.key_file,
            "cert_file": key.cert_file,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"inline": [sp_metadata]},
            "allow_unknown_attributes": True,
        }
        self.server = Server(config=IdPConfig().load(config))

    def metadata(self, keys: tuple[SigningKey, ...] | None = None, *, slo: bool = True) -> bytes:
        return idp_metadata(self.entity_id, keys or (self.key,), slo=slo)

    # -- responses ---------------------------------------------------------------------------------------
    def unsigned_response(
        self,
        *,
        acs: str,
        audience: str,
        name_id: str,
        attributes: dict[str, list[str]],
        in_response_to: str | None,
    ) -> bytes:
        xml = self.server.create_authn_response(
            identity=attributes,
            in_response_to=in_response_to,
            destination=acs,
            sp_entity_id=audience,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id),
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED},
            sign_response=False,
            sign_assertion=False,
        )
        return str(xml).encode()

    def sign(
        self,
        xml: bytes,
        which: str,
        *,
        key: SigningKey | None = None,
        sign_alg: str = RSA_SHA256,
        digest_alg: str = SHA256,
        key_info: SigningKey | None = None,
    ) -> bytes:
        """Sign the Assertion or the Response of ``xml`` with ``key`` (KeyInfo carries ``key_info``'s cert)."""
        key = key or self.key
        root = etree.fromstring(xml)
        element = root if which == "response" else root.find(f".//{q(SAML, 'Assertion')}")
        assert element is not None
        for old in element.findall(q(DS, "Signature")):
            element.remove(old)
        template = pre_signature_part(
            element.get("ID"),
            (key_info or key).cert_b64,
            1 if which == "assertion" else 2,
            sign_alg=sign_alg,
            digest_alg=digest_alg,
        )
        element.find(q(SAML, "Issuer")).addnext(etree.fromstring(str(template).encode()))
        node = f"{SAML}:Assertion" if which == "assertion" else f"{SAMLP}:Response"
        signed = self.server.sec.sign_statement(
            etree.tostring(root).decode(), node, key_file=key.key_file, node_id=element.get("ID")
        )
        return signed.encode() if isinstance(signed, str) else signed

    def encrypt(self, xml: bytes, sp_cert_b64: str) -> bytes:
        """Encrypt the (signed) Assertion for the SP certificate: AES-256-CBC content, RSA-OAEP key transport."""
        root = etree.fromstring(xml)
        assertion = root.find(q(SAML, "Assertion"))
        wrapper = etree.Element(q(SAML, "EncryptedAssertion"))
        assertion.addprevious(wrapper)
        wrapper.append(assertion)
        pem = "-----BEGIN CERTIFICATE-----\n" + sp_cert_b64 + "\n-----END CERTIFICATE-----\n"
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as cert_file:
            cert_file.write(pem)
            cert_file.flush()
            template = pre_encryption_part(
                msg_enc="http://www.w3.org/2001/04/xmlenc#aes256-cbc", encrypt_cert=sp_cert_b64
            )
            encrypted = self.server.sec.encrypt_assertion(
                etree.tostring(root).decode(),
                cert_file.name,
                template,
                key_type="aes-256",
                node_xpath=ASSERT_XPATH,
            )
        return encrypted.encode() if isinstance(encrypted, str) else encrypted

    def response(
        self,
        *,
        acs: str,
        audience: str,
        name_id: str,
        attributes: dict[str, list[str]] | None = None,
        in_response_to: str | None = None,
        mutate: Mutation | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        key: SigningKey | None = None,
        sign_alg: str = RSA_SHA256,
        digest_alg: str = SHA256,
    ) -> bytes:
        xml = self.unsigned_response(
            acs=acs,
            audience=audience,
            name_id=name_id,
            attributes=attributes or {"email": [name_id]},
            in_response_to=in_response_to,
        )
        if mutate is not None:
            root = etree.fromstring(xml)
            mutate(root)
            xml = etree.tostring(root)
        if sign_assertion:
            xml = self.sign(xml, "assertion", key=key, sign_alg=sign_alg, digest_alg=digest_alg)
        if sign_response:
            xml = self.sign(xml, "response", key=key, sign_alg=sign_alg, digest_alg=digest_alg)
        return xml


# -- browser side --------------------------------------------------------------------------------------


def b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


def deflate_b64(data: bytes) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()


def start_login(client: FlaskClient, slug: str, next_url: str | None = None) -> tuple[str, str | None]:
    """GET the login endpoint; returns the AuthnRequest ID and the RelayState sent to the IdP."""
    query = {"next": next_url} if next_url else {}
    answer = client.get(f"/saml/{slug}/login", query_string=query)
    assert answer.status_code == 302, answer.data
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    request_xml = zlib.decompress(base64.b64decode(params["SAMLRequest"][0]), -15)
    request_id = etree.fromstring(request_xml).get("ID")
    relay = params.get("RelayState", [None])[0]
    return request_id, relay


def post_acs(client: FlaskClient, slug: str, xml: bytes, relay_state: str | None = None):  # type: ignore[no-untyped-def]
    form = {"SAMLResponse": b64(xml)}
    if relay_state is not None:
        form["RelayState"] = relay_state
    return client.post(f"/saml/{slug}/acs", data=form)


def reason(page) -> str | None:  # type: ignore[no-untyped-def]
    """The refusal code a message page shows (``Reason: <code>``)."""
    match = re.search(r"Reason: ([a-z_]+)", page.get_data(as_text=True))
    return match.group(1) if match else None
