"""Test sign-in through a SAML connection: an Admin's diagnosis of the connection, in any state.

``/saml/<slug>/test`` sends an AuthnRequest remembered as a *test* request, with a RelayState marking the
answer (``saml.trial_relay``). The IdP posts to the connection's ACS, which hands the response here: it is
verified exactly like a real sign-in (python3-saml strict, signatures, the gateway's own checks, replay cache),
except that the connection may be disabled and the answer must name the test request in ``InResponseTo``. The
report (what the IdP sent, what the gateway would do and why) is saved as the connection's last test; the
Admin's session is left alone and no member is created or changed.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import redirect, request
from flask.typing import ResponseReturnValue
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request

from gateway.domain import model as m
from gateway.domain.errors import DomainError, Forbidden
from gateway.services.saml_connections import BINDING_POST, SamlConfig, SamlRefused, cert_fingerprint
from gateway.services.test_sign_in import Received
from gateway.web.redirects import safe_next
from gateway.web.session_cookie import read_session_token
from gateway.web.signin import refusal_page, request_actor
from gateway.wiring import services, settings
from saml import checks
from saml.context import saml_connections
from saml.errors import refusal
from saml.identity import identity_from
from saml.sp_settings import acs_settings, build_settings, request_data, sp_urls
from saml.trial_relay import next_of, trial_relay
from saml.views import _encrypted, _not_found, _post_form, _validated_response, bp

TEST_KIND = "test"
AUTHN = "{urn:oasis:names:tc:SAML:2.0:assertion}AuthnStatement"


def _admin_of(connection: m.SsoConnection) -> m.Actor:
    token = read_session_token()
    signed_in = services().sessions.resolve(token) if token else None
    if signed_in is None or signed_in.member.org_id != connection.org_id or not signed_in.member.is_admin:
        raise Forbidden("Only an Admin of this organization, signed in, can test its connection.")
    return request_actor(m.ActorType.ADMIN, signed_in.member.id, f"test sign-in by {signed_in.member.email}")


@bp.get("/<slug>/test")
def test_login(slug: str) -> ResponseReturnValue:
    """Start a test sign-in (also on a disabled connection, also before the switch to SSO mode)."""
    connection = saml_connections().by_slug(slug)
    if connection is None:
        return _not_found(slug)
    try:
        _admin_of(connection)
    except Forbidden as error:
        return refusal_page(error)
    config = saml_connections().config(connection)
    relay = trial_relay(safe_next(request.args.get("next"), default="/admin/connections"))
    sp_settings = build_settings(settings(), connection, config=config)
    if config.idp_sso_binding == BINDING_POST:
        authn = OneLogin_Saml2_Authn_Request(sp_settings, force_authn=True)
        saml_connections().remember_request(connection, authn.get_id(), kind=TEST_KIND)
        return _post_form(config.idp_sso_url, "SAMLRequest", authn.get_request(deflate=False), relay)
    auth = OneLogin_Saml2_Auth(request_data(settings(), f"/saml/{slug}/test"), sp_settings)
    url = auth.login(return_to=relay, force_authn=True)
    saml_connections().remember_request(connection, auth.get_last_request_id(), kind=TEST_KIND)
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _times(root: Any, verified_root: Any) -> dict[str, str]:
    found = {"issue_instant": root.get("IssueInstant")}
    statement = next(iter(verified_root.iter(AUTHN)), None)
    if statement is not None:
        found["authn_instant"] = statement.get("AuthnInstant")
        found["session_not_on_or_after"] = statement.get("SessionNotOnOrAfter")
    return {k: v for k, v in found.items() if v}


def finish_test(connection: m.SsoConnection) -> ResponseReturnValue:
    """Verify the IdP's answer to a test sign-in, save the report, and go back to the console.

    The IdP's POST is cross-site, so the Admin's (SameSite=Lax) cookie is not there: what authorizes the report
    is the test request an Admin started, which the answer must name in ``InResponseTo``. An answer naming no
    live test request is refused without touching the connection's last test result."""
    try:
        raw = checks.decode_post_message(request.form.get("SAMLResponse"))
        root = checks.parse_xml(raw)
    except SamlRefused as error:
        return refusal(connection, error)
    if not saml_connections().request_pending(connection, root.get("InResponseTo"), TEST_KIND):
        return refusal(
            connection,
            SamlRefused(
                "saml_unknown_request", "This answers no test sign-in the gateway started (or it expired)."
            ),
        )
    actor = request_actor(m.ActorType.ADMIN, None, "an Admin's test sign-in")
    tests = services().sign_in_tests
    back = redirect(
        safe_next(next_of(request.form.get("RelayState")), default="/admin/connections"), code=303
    )
    received: Received | None = None
    try:
        checks.check_response_shape(root)
        prepared = acs_settings(settings(), connection)
        config: SamlConfig = prepared.config
        encoded = base64.b64encode(raw).decode()
        response = _validated_response(connection, prepared, encoded, encrypted=_encrypted(root))
        verified_root = response.decrypted_document if response.encrypted else response.document
        if response.encrypted:
            checks.check_assertion_shape(verified_root)
        urls = sp_urls(settings(), connection)
        expected = checks.Expected(
            sp_entity_id=urls.entity_id, acs_url=urls.acs, idp_entity_id=config.idp_entity_id,
            now=saml_connections().now(),
        )  # fmt: skip
        facts = checks.check_verified_response(root, verified_root, expected)
        attributes = {k: list(v) for k, v in response.get_attributes().items()}
        received = Received(
            subject=response.get_nameid(),
            claims=attributes,
            details={
                "issuer": config.idp_entity_id,
                "name_id": response.get_nameid(),
                "name_id_format": response.get_nameid_format(),
                "session_index": response.get_session_index(),
                "signature": "verified"
                + (" (assertion encrypted, decrypted with an SP key)" if response.encrypted else ""),
                "certificate": "one of the trusted IdP certificates: "
                + ", ".join(cert_fingerprint(c)[:16] for c in config.idp_certs),
                "times": {**_times(root, verified_root), "not_on_or_after": facts.not_on_or_after},
            },
        )
        if facts.in_response_to is None:
            raise SamlRefused("saml_unsolicited", "A test sign-in must answer the gateway's test request.")
        identity = identity_from(
            config, name_id=response.get_nameid(), name_id_format=response.get_nameid_format(),
            session_index=response.get_session_index(), attributes=response.get_attributes(),
        )  # fmt: skip
        saml_connections().accept_assertion(
            connection, assertion_id=facts.assertion_id, not_on_or_after=facts.not_on_or_after,
            in_response_to=facts.in_response_to, kind=TEST_KIND,
        )  # fmt: skip
    except DomainError as error:
        tests.record(connection, actor, received=received, outcome=None, error=error)
        return back
    received = Received(
        subject=received.subject, email=identity.email, claims=received.claims,
        groups=list(identity.groups), details=received.details,
    )  # fmt: skip
    outcome = tests.predict(connection, identity.email, identity.role)
    tests.record(connection, actor, received=received, outcome=outcome)
    return back
