"""The demo IdP's SAML endpoints, on the demo IdP's blueprint (``/demo-idp/saml/...``):

- ``GET /metadata``: the IdP metadata (``gateway demo seed`` builds the demo SAML connection from the same);
- ``GET /sso``: an AuthnRequest over the HTTP-Redirect binding, as ``/saml/<connection>/login`` sends it; the
  person picks who signs in, as on the OIDC page;
- ``POST /sso``: the choice; the signed Response goes to the connection's ACS in a form the browser posts
  (HTTP-POST binding), or the person cancelled and is sent back to the gateway's sign-in page.

Like the OIDC form, the choice needs no CSRF token of its own: the assertion can only be posted to the gateway's
own ACS, which accepts it only from the browser that started that sign-in (``saml/binding.py``).
"""

from __future__ import annotations

import logging
import secrets

from flask import Response, current_app, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.demo_idp.routes import bp, no_store, sign_in_page
from gateway.demo_idp.saml_idp import DemoSamlIdp, SamlAuthnRequest, SamlRequestError
from gateway.services.demo_directory import SAML_PEOPLE, choose

log = logging.getLogger(__name__)
HTML = {"Content-Type": "text/html; charset=utf-8"}


def saml_idp() -> DemoSamlIdp:
    return current_app.extensions["gateway.demo_idp.saml"]


@bp.get("/saml/metadata")
def saml_metadata() -> ResponseReturnValue:
    return Response(saml_idp().metadata(), 200, {"Content-Type": "application/samlmetadata+xml"})


@bp.get("/saml/sso")
def saml_sso() -> ResponseReturnValue:
    authn = saml_idp().authn_request(request.args.get("SAMLRequest"), request.args.get("RelayState"))
    return _page(authn, chosen="")


@bp.post("/saml/sso")
def saml_confirm() -> ResponseReturnValue:
    authn = saml_idp().authn_request(request.form.get("SAMLRequest"), request.form.get("RelayState"))
    if request.form.get("action") != "confirm":
        html = render_template("demo_idp/saml_cancelled.html", login_url=saml_idp().public_url + "/login")
        return no_store(make_response(html, 200, HTML))
    typed = (request.form.get("email") or "").strip()[:320]
    chosen = typed or (request.form.get("person") or "").strip()
    try:
        person = choose(chosen)
    except ValueError as exc:
        return _page(authn, chosen=chosen.lower(), error=str(exc), status=400)
    log.info("demo idp: SAML response for %s", authn.acs_url)
    nonce = secrets.token_urlsafe(16)
    html = render_template(
        "demo_idp/saml_post.html",
        acs_url=authn.acs_url,
        saml_response=saml_idp().response(authn, person),
        relay_state=authn.relay_state,
        nonce=nonce,
    )
    response = make_response(html, 200, HTML)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'"
    )
    return no_store(response)


def _page(authn: SamlAuthnRequest, *, chosen: str, error: str | None = None, status: int = 200) -> Response:
    return sign_in_page(
        people=SAML_PEOPLE,
        fields=authn.as_form(),
        action=url_for("demo_idp.saml_confirm"),
        audience=f"SAML service provider {authn.sp_entity_id}",
        chosen=chosen,
        error=error,
        status=status,
    )


@bp.errorhandler(SamlRequestError)
def saml_request_error(error: SamlRequestError) -> ResponseReturnValue:
    log.info("demo idp refused a SAML request: %s", error.description)
    html = render_template("demo_idp/error.html", error=error)
    return no_store(make_response(html, error.status, HTML))
