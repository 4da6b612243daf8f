"""The SAML endpoints of one connection: metadata, login (AuthnRequest), ACS and single logout.

Every refusal goes through :func:`saml.errors.refusal`, the adapter's one error mapper: audited, an HTML page,
no session created.
"""

from __future__ import annotations

import base64
import logging

from flask import Blueprint, Response, make_response, redirect, render_template_string, request
from flask.typing import ResponseReturnValue
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response

from gateway.domain import model as m
from gateway.services.kept_connections import ConnectionChanged
from gateway.services.saml_connections import BINDING_POST, SamlConfig, SamlRefused
from gateway.web.redirects import safe_next
from gateway.web.signin import complete_sso_sign_in, message_page
from gateway.wiring import services, settings
from saml import binding, checks
from saml.context import connection_actor, saml_connections
from saml.errors import python3_saml_refusal, refusal
from saml.identity import SamlIdentity, identity_from
from saml.schema import compiled_schemas
from saml.sp_settings import AcsSettings, acs_settings, build_settings, request_data, sp_urls
from saml.trial_relay import is_test_relay

log = logging.getLogger(__name__)

bp = Blueprint("saml", __name__, url_prefix="/saml")


def _not_found(slug: str) -> Response:
    return message_page(
        "Unknown sign-in connection",
        f"There is no SAML connection named {slug!r}. Check the link your administrator gave you.",
        status=404,
        code="saml_unknown_connection",
    )


@bp.get("/<slug>/metadata")
def metadata(slug: str) -> ResponseReturnValue:
    """The SP metadata an IT admin pastes into the identity provider."""
    connection = saml_connections().by_slug(slug)
    if connection is None:
        return _not_found(slug)
    try:
        sp_settings = build_settings(settings(), connection)
    except SamlRefused as error:
        return refusal(connection, error)
    xml = sp_settings.get_sp_metadata()
    errors = sp_settings.validate_metadata(xml)
    if errors:
        log.error("invalid SP metadata for connection %s: %s", connection.slug, errors)
        return message_page("Metadata unavailable", "The SP metadata could not be built.", status=500)
    return Response(xml, 200, {"Content-Type": "application/samlmetadata+xml", "Cache-Control": "no-store"})


@bp.get("/<slug>/login")
def login(slug: str) -> ResponseReturnValue:
    """Send the browser to the IdP with an AuthnRequest whose id is remembered for ``InResponseTo``."""
    connection = saml_connections().by_slug(slug)
    if connection is None:
        return _not_found(slug)
    if not connection.is_usable:
        return refusal(connection, _disabled())
    try:
        config = saml_connections().config(connection)
    except SamlRefused as error:
        return refusal(connection, error)
    relay_state = safe_next(request.args.get("next"))
    sp_settings = build_settings(settings(), connection, config=config)
    secret = binding.browser_secret()
    if config.idp_sso_binding == BINDING_POST:
        authn = OneLogin_Saml2_Authn_Request(sp_settings)
        saml_connections().remember_request(connection, authn.get_id(), browser_secret=secret)
        form = _post_form(config.idp_sso_url, "SAMLRequest", authn.get_request(deflate=False), relay_state)
        return binding.bind(form, connection, secret)
    auth = OneLogin_Saml2_Auth(request_data(settings(), f"/saml/{slug}/login"), sp_settings)
    url = auth.login(return_to=relay_state)
    saml_connections().remember_request(connection, auth.get_last_request_id(), browser_secret=secret)
    return binding.bind(_no_store(redirect(url, code=302)), connection, secret)


@bp.post("/<slug>/acs")
def acs(slug: str) -> ResponseReturnValue:
    """Verify the IdP's response, then hand the identity to the organization core."""
    if is_test_relay(request.form.get("RelayState")):
        from saml.trial import finish_test  # the test flow builds on this module's checks

        connection = saml_connections().by_slug(slug)
        return _not_found(slug) if connection is None else finish_test(connection)
    try:
        return _acs(slug, kept=True)
    except ConnectionChanged:
        pass
    try:
        return _acs(slug, kept=False)
    except ConnectionChanged:  # deleted while this sign-in ran
        return _not_found(slug)


def _acs(slug: str, *, kept: bool) -> ResponseReturnValue:
    """One transaction: after the signature checks, which touch no table, the replay cache, the request id, the
    sign-in, the session and their audit rows, committed together. With ``kept`` the connection is this
    process's copy (``gateway.services.kept_connections``), checked against the stored one by the statement that
    records the assertion, or before a refusal; ``ConnectionChanged`` when it is stale, before anything is
    written. Without it the connection is read first in the transaction."""
    with services().db.scope(write=True):
        connection = saml_connections().kept_by_slug(slug, fresh=not kept)
        if connection is None:
            return _not_found(slug)
        return _sign_in(connection, kept=kept)


def _sign_in(connection: m.SsoConnection, *, kept: bool = False) -> ResponseReturnValue:
    try:
        identity = verify_response(connection, request.form.get("SAMLResponse"), kept=kept)
    except SamlRefused as error:
        if kept and not saml_connections().is_current(connection):
            raise ConnectionChanged(connection.slug) from error
        return refusal(connection, error)
    return complete_sso_sign_in(
        connection,
        identity.email,
        role=identity.role,
        audit_details=identity.role_audit,
        profile=identity.profile,
        next_url=request.form.get("RelayState"),
        session_data={
            "saml": {
                "connection": connection.id,
                "slug": connection.slug,
                "name_id": identity.name_id,
                "name_id_format": identity.name_id_format,
                "session_index": identity.session_index,
            }
        },
    )


def _disabled() -> SamlRefused:
    return SamlRefused("connection_disabled", "This sign-in connection is disabled. Ask your administrator.")


def verify_response(connection: m.SsoConnection, posted: str | None, *, kept: bool = False) -> SamlIdentity:
    """Everything between a posted SAMLResponse and a trusted identity; ``SamlRefused`` otherwise. ``kept``:
    the connection is a kept copy, checked when the assertion is recorded (``ConnectionChanged``)."""
    if not connection.is_usable:
        raise _disabled()
    raw = checks.decode_post_message(posted)
    root = checks.parse_xml(raw)
    checks.check_response_shape(root)
    prepared = acs_settings(settings(), connection)
    config = prepared.config
    # python3-saml gets exactly the bytes checked above, re-encoded, so both parse the same document.
    encoded = base64.b64encode(raw).decode()
    response = _validated_response(connection, prepared, encoded, encrypted=_encrypted(root))
    verified_root = response.decrypted_document if response.encrypted else response.document
    if response.encrypted:
        checks.check_assertion_shape(verified_root)
    urls = sp_urls(settings(), connection)
    expected = checks.Expected(
        sp_entity_id=urls.entity_id,
        acs_url=urls.acs,
        idp_entity_id=config.idp_entity_id,
        now=saml_connections().now(),
    )
    facts = checks.check_verified_response(root, verified_root, expected)
    if facts.in_response_to is None and not config.allow_idp_initiated:
        raise SamlRefused(
            "saml_unsolicited",
            "This connection accepts only sign-ins started at the gateway (IdP-initiated sign-in is off).",
        )
    with compiled_schemas():  # python3-saml's getters query the document too
        identity = identity_from(
            config,
            name_id=response.get_nameid(),
            name_id_format=response.get_nameid_format(),
            session_index=response.get_session_index(),
            attributes=response.get_attributes(),
        )
    saml_connections().accept_assertion(
        connection,
        assertion_id=facts.assertion_id,
        not_on_or_after=facts.not_on_or_after,
        in_response_to=facts.in_response_to,
        browser_secret=binding.presented(),
        signs_in=identity.email,
        kept_copy=kept,
    )
    return identity


def _encrypted(root: object) -> bool:
    return root.find(f"{{{checks.SAML}}}EncryptedAssertion") is not None  # type: ignore[attr-defined]


def _validated_response(
    connection: m.SsoConnection, prepared: AcsSettings, posted: str, *, encrypted: bool
) -> OneLogin_Saml2_Response:
    """python3-saml's validation (strict, signatures, schema, its own checks), with each SP key in turn when
    the assertion is encrypted, so a key rotation with overlap never breaks sign-in."""
    data = request_data(settings(), f"/saml/{connection.slug}/acs", post={"SAMLResponse": posted})
    keys = list(prepared.config.sp_keys) if encrypted else [None]
    if encrypted and not keys:
        raise SamlRefused("saml_encrypted", "The assertion is encrypted but this connection has no SP key.")
    last_error: Exception | None = None
    for key in keys:
        try:
            sp_settings = prepared.settings(settings(), connection, key)
            response = OneLogin_Saml2_Response(sp_settings, posted)
        except Exception as exc:  # decryption with the wrong key, or a malformed encrypted assertion
            last_error = exc
            continue
        try:
            with compiled_schemas():
                response.is_valid(data, request_id=None, raise_exceptions=True)
        except Exception as exc:
            raise python3_saml_refusal(exc) from None
        return response
    raise python3_saml_refusal(last_error or ValueError("no key")) from None


@bp.route("/<slug>/slo", methods=["GET", "POST"])
def slo(slug: str) -> ResponseReturnValue:
    """Single logout over the HTTP-Redirect binding: a LogoutRequest from the IdP ends the sessions this
    connection started for that NameID; a LogoutResponse answers the gateway's own LogoutRequest."""
    connection = saml_connections().by_slug(slug)
    if connection is None:
        return _not_found(slug)
    try:
        if request.method == "POST":
            from saml.slo_post import handle_post  # the HTTP-POST binding

            return handle_post(connection)
        if "SAMLRequest" in request.args:
            return _idp_logout_request(connection)
        if "SAMLResponse" in request.args:
            return _idp_logout_response(connection)
        raise SamlRefused("saml_missing_message", "No SAML logout message was sent.")
    except SamlRefused as error:
        return refusal(connection, error)


def _logout_auth(connection: m.SsoConnection) -> OneLogin_Saml2_Auth:
    data = request_data(settings(), f"/saml/{connection.slug}/slo", get=request.args.to_dict())
    return OneLogin_Saml2_Auth(data, build_settings(settings(), connection, for_logout=True))


def _check_logout_message(connection: m.SsoConnection, param: str, tag: str) -> tuple[bytes, str | None]:
    """The bounded, entity-free checks of a Redirect-binding logout message; its XML and ``InResponseTo``."""
    xml = checks.inflate_redirect_message(request.args.get(param))
    root = checks.parse_xml(xml)
    config = SamlConfig.from_dict(connection.config)
    checks.check_logout_message(root, tag, sp_urls(settings(), connection).slo, config.idp_entity_id)
    return xml, root.get("InResponseTo")


def _idp_logout_request(connection: m.SsoConnection) -> Response:
    xml, _ = _check_logout_message(connection, "SAMLRequest", "LogoutRequest")
    auth = _logout_auth(connection)
    try:
        url = auth.process_slo(keep_local_session=True)
    except Exception as exc:
        raise python3_saml_refusal(exc) from None
    if auth.get_errors() or not url:
        raise SamlRefused(
            "saml_logout_invalid", f"The logout request was refused: {auth.get_last_error_reason()}"
        )
    indexes = OneLogin_Saml2_Logout_Request.get_session_indexes(xml)
    name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
    saml_connections().single_logout(
        connection, name_id, indexes[0] if indexes else None, connection_actor(connection)
    )
    return _no_store(redirect(url, code=302))


def _idp_logout_response(connection: m.SsoConnection) -> Response:
    _, in_response_to = _check_logout_message(connection, "SAMLResponse", "LogoutResponse")
    if not in_response_to:
        raise SamlRefused("saml_unknown_request", "This logout answers no request of the gateway.")
    auth = _logout_auth(connection)
    try:
        auth.process_slo(keep_local_session=True, request_id=in_response_to)
    except Exception as exc:
        raise python3_saml_refusal(exc) from None
    if auth.get_errors():
        raise SamlRefused(
            "saml_logout_invalid", f"The logout response was refused: {auth.get_last_error_reason()}"
        )
    # Consumed only once the signature is verified, so a forged answer cannot burn the real one.
    if not saml_connections().consume_logout_request(connection, in_response_to):
        raise SamlRefused("saml_unknown_request", "This logout answers a request the gateway did not send.")
    return _no_store(redirect(safe_next(request.args.get("RelayState"), default="/login"), code=303))


def logout_hook(signed_in: object) -> Response | None:
    """``/logout`` for a session a SAML connection started: send a LogoutRequest to the IdP when it has SLO."""
    session = getattr(signed_in, "session", None)
    saml = (getattr(session, "data", None) or {}).get("saml") if session is not None else None
    if not saml:
        return None
    connection = saml_connections().by_slug(saml.get("slug", ""))
    if connection is None or connection.id != saml.get("connection") or not connection.is_usable:
        return None
    config = SamlConfig.from_dict(connection.config)
    if not config.idp_slo_url:
        return None
    try:
        sp_settings = build_settings(settings(), connection, for_logout=True)
        if config.idp_slo_binding == BINDING_POST:
            from saml.slo_post import post_logout_request  # the HTTP-POST binding

            return post_logout_request(
                connection, saml, safe_next(request.args.get("next"), default="/login")
            )
    except SamlRefused as error:
        # The LogoutRequest cannot be signed: end the gateway session only, and say why in the log.
        log.warning("no SAML single logout for connection %s: %s", connection.slug, error.code)
        return None
    auth = OneLogin_Saml2_Auth(request_data(settings(), f"/saml/{connection.slug}/slo"), sp_settings)
    url = auth.logout(
        return_to=safe_next(request.args.get("next"), default="/login"),
        name_id=saml.get("name_id"),
        session_index=saml.get("session_index"),
        name_id_format=saml.get("name_id_format"),
    )
    saml_connections().remember_request(connection, auth.get_last_request_id(), kind="logout")
    return _no_store(redirect(url, code=302))


# The HTTP-POST binding: a form the browser submits to the IdP by itself (autoescaped, like every template).
POST_FORM = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Signing in · Identity gateway</title>
</head>
<body onload="document.forms[0].submit()">
  <form method="post" action="{{ url }}">
    <input type="hidden" name="{{ field }}" value="{{ message }}">
    <input type="hidden" name="RelayState" value="{{ relay_state }}">
    <noscript><p>JavaScript is off: press the button to continue signing in.</p><button type="submit">Continue</button></noscript>
  </form>
</body>
</html>
"""


def _post_form(url: str, field: str, message: str, relay_state: str) -> Response:
    html = render_template_string(POST_FORM, url=url, field=field, message=message, relay_state=relay_state)
    return make_response(html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
