"""The SAML adapter's one error mapper: a refusal is audited and shown as an HTML page, and no session is made."""

from __future__ import annotations

import logging

from flask import Response
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as VE

from gateway.domain import model as m
from gateway.services.saml_connections import SamlRefused
from gateway.web.signin import message_page
from saml.context import connection_actor, saml_connections

log = logging.getLogger(__name__)

# Malformed input is the client's fault (400); everything else is a refusal of an identity claim (403).
BAD_REQUEST = frozenset(
    {"saml_missing_message", "saml_malformed", "saml_message_too_large", "saml_dtd", "saml_binding"}
)

TITLES = {
    "connection_disabled": "Single sign-on is not available for this connection",
    "saml_replay": "This sign-in link was already used",
    "saml_unknown_request": "This sign-in has expired",
    "saml_unsolicited": "Start the sign-in from the gateway",
    "saml_expired": "This sign-in has expired",
    "saml_sp_key_unreadable": "Single sign-on is misconfigured for this connection",
}

_PYTHON3_SAML_CODES = {
    VE.WRONG_AUDIENCE: "saml_audience",
    VE.WRONG_ISSUER: "saml_issuer",
    VE.ISSUER_MULTIPLE_IN_RESPONSE: "saml_issuer",
    VE.ISSUER_NOT_FOUND_IN_ASSERTION: "saml_issuer",
    VE.WRONG_DESTINATION: "saml_destination",
    VE.EMPTY_DESTINATION: "saml_destination",
    VE.ASSERTION_EXPIRED: "saml_expired",
    VE.SESSION_EXPIRED: "saml_expired",
    VE.RESPONSE_EXPIRED: "saml_expired",
    VE.ASSERTION_TOO_EARLY: "saml_not_yet_valid",
    VE.WRONG_SUBJECTCONFIRMATION: "saml_subject_confirmation",
    VE.WRONG_INRESPONSETO: "saml_in_response_to",
    VE.INVALID_SIGNATURE: "saml_signature",
    VE.NO_SIGNATURE_FOUND: "saml_signature",
    VE.NO_SIGNED_ASSERTION: "saml_signature",
    VE.NO_SIGNED_MESSAGE: "saml_signature",
    VE.WRONG_SIGNED_ELEMENT: "saml_signature",
    VE.INVALID_SIGNED_ELEMENT: "saml_signature",
    VE.UNEXPECTED_SIGNED_ELEMENTS: "saml_signature",
    VE.DEPRECATED_SIGNATURE_METHOD: "saml_signature_algorithm",
    VE.DEPRECATED_DIGEST_METHOD: "saml_signature_algorithm",
    VE.STATUS_CODE_IS_NOT_SUCCESS: "saml_idp_refused",
    VE.NO_ENCRYPTED_ASSERTION: "saml_encrypted",
    VE.INVALID_XML_FORMAT: "saml_malformed",
}


def python3_saml_refusal(error: Exception) -> SamlRefused:
    """python3-saml's verdict as a typed refusal with a stable code."""
    if isinstance(error, SamlRefused):
        return error
    if isinstance(error, VE):
        code = _PYTHON3_SAML_CODES.get(error.code, "saml_invalid")
        return SamlRefused(code, f"The identity provider's response was refused: {error}")
    log.warning("SAML message failed validation: %s", type(error).__name__)
    return SamlRefused("saml_invalid", "The identity provider's response could not be verified.")


def refusal(connection: m.SsoConnection, error: SamlRefused) -> Response:
    saml_connections().record_refusal(connection, connection_actor(connection), error.code, error.message)
    log.info("SAML sign-in refused on %s: %s", connection.slug, error.code)
    status = 400 if error.code in BAD_REQUEST else 403
    title = TITLES.get(error.code, "Sign-in refused")
    return message_page(title, error.message, status=status, code=error.code)
