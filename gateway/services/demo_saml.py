"""The demo identity provider's SAML side, as both ends of the demo need it: its signing key pair (generated
once into the instance folder, never hard-coded) and its IdP metadata. Plain Python (no Flask, no
python3-saml), so that ``gateway demo seed`` creates the demo SAML connection from the very metadata the demo
IdP serves at ``/demo-idp/saml/metadata`` without the server running.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.services.demo_directory import saml_entity_id, saml_sso_url
from gateway.services.instance_files import read_or_create
from gateway.services.saml_connections import BINDING_REDIRECT, DS, MD, NAMEID_EMAIL, generate_sp_key

KEY_FILE = "demo-idp-saml-signing.pem"


@dataclass(frozen=True)
class SamlSigningKey:
    """An RSA private key (PEM) and its self-signed certificate (base64 DER, as SAML metadata carries it)."""

    key_pem: str
    cert: str

    @classmethod
    def load_or_create(cls, instance_path: str | Path, now: datetime) -> SamlSigningKey:
        """The pair in ``<instance>/demo-idp-saml-signing.pem`` (key and certificate), made on first use."""

        def make() -> bytes:
            pair = generate_sp_key("identity-gateway demo IdP (SAML)", now)
            cert_pem = x509.load_der_x509_certificate(base64.b64decode(pair.cert)).public_bytes(
                serialization.Encoding.PEM
            )
            return pair.key.encode() + cert_pem

        pem = read_or_create(Path(instance_path) / KEY_FILE, make)
        key = serialization.load_pem_private_key(pem, password=None)
        cert = x509.load_pem_x509_certificate(pem)
        return cls(
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            cert=base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        )


def idp_metadata(public_url: str, cert: str) -> bytes:
    """SAML 2.0 IdP metadata: entity ID, the HTTP-Redirect SSO endpoint, the signing certificate."""
    entity = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={"md": MD, "ds": DS})
    entity.set("entityID", saml_entity_id(public_url))
    descriptor = etree.SubElement(entity, f"{{{MD}}}IDPSSODescriptor")
    descriptor.set("WantAuthnRequestsSigned", "false")
    descriptor.set("protocolSupportEnumeration", "urn:oasis:names:tc:SAML:2.0:protocol")
    key = etree.SubElement(descriptor, f"{{{MD}}}KeyDescriptor", use="signing")
    info = etree.SubElement(key, f"{{{DS}}}KeyInfo")
    data = etree.SubElement(info, f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = cert
    etree.SubElement(descriptor, f"{{{MD}}}NameIDFormat").text = NAMEID_EMAIL
    sso = etree.SubElement(descriptor, f"{{{MD}}}SingleSignOnService")
    sso.set("Binding", BINDING_REDIRECT)
    sso.set("Location", saml_sso_url(public_url))
    return etree.tostring(entity, xml_declaration=True, encoding="UTF-8", pretty_print=True)
