"""Single logout over the HTTP-POST binding (python3-saml handles only the Redirect binding's SLO).

A POST logout message carries an enveloped XML signature: it must be exactly one signature, on the message
element itself (its ``Reference`` names the root's ``ID``), by one of the connection's IdP certificates, with a
non-deprecated algorithm. Our own LogoutRequest / LogoutResponse are built by python3-saml, signed with the
connection's SP key (RSA-SHA256), and posted by the browser in an auto-submitting form.

- IdP-initiated: a LogoutRequest POSTed to ``/saml/<slug>/slo`` ends the sessions the connection started for
  that NameID (and session index), then a signed LogoutResponse is posted back to the IdP.
- SP-initiated: ``/logout`` for a connection whose IdP offers SLO only over POST posts a signed LogoutRequest;
  the IdP's LogoutResponse comes back here and must answer a logout request the gateway sent.
"""

from __future__ import annotations

import base64

from flask import Response, redirect, request
from lxml import etree
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from gateway.domain import model as m
from gateway.services.saml_connections import SamlConfig, SamlRefused
from gateway.web.redirects import safe_next
from gateway.wiring import settings
from saml import checks
from saml.context import connection_actor, saml_connections
from saml.sp_settings import build_settings, sp_urls

DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
ALLOWED_SIGNATURES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _verified(connection: m.SsoConnection, raw: bytes, tag: str) -> etree._Element:
    """The checked, signature-verified logout message ``tag`` (``LogoutRequest`` or ``LogoutResponse``)."""
    root = checks.parse_xml(raw)
    config = SamlConfig.from_dict(connection.config)
    checks.check_logout_message(root, tag, sp_urls(settings(), connection).slo, config.idp_entity_id)
    signatures = root.findall(f"{{{DS}}}Signature")
    if len(signatures) != 1 or len(list(root.iter(f"{{{DS}}}Signature"))) != 1:
        raise SamlRefused(
            "saml_logout_invalid", "The logout message must carry exactly one signature, on itself."
        )
    method = signatures[0].find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    if method is None or method.get("Algorithm") not in ALLOWED_SIGNATURES:
        raise SamlRefused("saml_logout_invalid", "The logout message is signed with a refused algorithm.")
    references = signatures[0].findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != f"#{root.get('ID')}":
        raise SamlRefused("saml_logout_invalid", "The logout message's signature does not cover the message.")
    certs = [OneLogin_Saml2_Utils.format_cert(c) for c in config.idp_certs]
    xpath = f"/samlp:{tag}/ds:Signature"
    if not OneLogin_Saml2_Utils.validate_sign(raw.decode(), multicerts=certs, xpath=xpath):
        raise SamlRefused("saml_logout_invalid", "The logout message's signature is not valid.")
    return root


def _signed(connection: m.SsoConnection, xml: str) -> str:
    """``xml`` signed (enveloped) with the connection's current SP key, base64-encoded for the POST binding."""
    config = saml_connections().config(connection)
    if not config.sp_keys:
        raise SamlRefused("saml_sp_key_missing", "This connection has no SP key to sign logout messages.")
    key = config.sp_keys[0]
    signed = OneLogin_Saml2_Utils.add_sign(
        xml,
        key.key,
        OneLogin_Saml2_Utils.format_cert(key.cert),
        sign_algorithm=RSA_SHA256,
        digest_algorithm=SHA256,
    )
    return base64.b64encode(signed if isinstance(signed, bytes) else signed.encode()).decode()


def handle_post(connection: m.SsoConnection) -> Response:
    from saml.views import _no_store, _post_form  # the adapter's own helpers

    relay_state = request.form.get("RelayState") or ""
    if "SAMLRequest" in request.form:
        raw = checks.decode_post_message(request.form.get("SAMLRequest"))
        root = _verified(connection, raw, "LogoutRequest")
        name_id = OneLogin_Saml2_Logout_Request.get_nameid(raw)
        indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(raw)
        saml_connections().single_logout(
            connection, name_id, indexes[0] if indexes else None, connection_actor(connection)
        )
        config = SamlConfig.from_dict(connection.config)
        if not config.idp_slo_url:
            raise SamlRefused("saml_logout_invalid", "The IdP has no single logout URL to answer.")
        answer = OneLogin_Saml2_Logout_Response(build_settings(settings(), connection, for_logout=True))
        answer.build(root.get("ID"))
        return _post_form(
            config.idp_slo_url, "SAMLResponse", _signed(connection, answer.get_xml()), relay_state
        )
    if "SAMLResponse" in request.form:
        raw = checks.decode_post_message(request.form.get("SAMLResponse"))
        root = _verified(connection, raw, "LogoutResponse")
        in_response_to = root.get("InResponseTo")
        if not in_response_to or not saml_connections().consume_logout_request(connection, in_response_to):
            raise SamlRefused(
                "saml_unknown_request", "This logout answers a request the gateway did not send."
            )
        return _no_store(redirect(safe_next(relay_state, default="/login"), code=303))
    raise SamlRefused("saml_missing_message", "No SAML logout message was posted.")


def post_logout_request(connection: m.SsoConnection, saml: dict, return_to: str) -> Response:
    """SP-initiated logout over POST: a signed LogoutRequest the browser posts to the IdP."""
    from saml.views import _post_form

    config = SamlConfig.from_dict(connection.config)
    message = OneLogin_Saml2_Logout_Request(
        build_settings(settings(), connection, for_logout=True),
        name_id=saml.get("name_id"),
        session_index=saml.get("session_index"),
        name_id_format=saml.get("name_id_format"),
    )
    saml_connections().remember_request(connection, message.id, kind="logout")
    return _post_form(
        config.idp_slo_url or "", "SAMLRequest", _signed(connection, message.get_xml()), return_to
    )
