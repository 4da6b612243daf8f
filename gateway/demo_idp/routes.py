"""HTTP endpoints of the demo OpenID Provider under ``/demo-idp``; every :class:`OAuthError` is mapped to a
response once, at the bottom: back to the client when its redirect URI is trusted, otherwise a page (for the
person at ``/authorize``) or RFC 6749 JSON (for the client at ``/token`` and ``/userinfo``).

The sign-in form needs no CSRF token of its own: a code can only be sent to one of the gateway's callbacks,
and the gateway accepts it only with the ``state`` bound to the browser that started the sign-in."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from gateway.demo_idp.provider import AuthorizationRequest, DemoProvider, OAuthError, TokenRequest
from gateway.services.demo_directory import DOMAINS, PATH, PEOPLE, DemoPerson

bp = Blueprint("demo_idp", __name__, url_prefix=PATH, template_folder="templates")
log = logging.getLogger(__name__)

PAGE_ENDPOINTS = {"demo_idp.authorize", "demo_idp.confirm"}


def provider() -> DemoProvider:
    return current_app.extensions["gateway.demo_idp"]


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/.well-known/openid-configuration")
def discovery() -> ResponseReturnValue:
    return jsonify(provider().discovery())


@bp.get("/jwks")
def jwks() -> ResponseReturnValue:
    return jsonify(provider().jwks())


@bp.get("/authorize")
def authorize() -> ResponseReturnValue:
    auth = provider().authorization_request(request.args.to_dict(flat=False))
    return _sign_in_page(auth, chosen=(auth.login_hint or "").strip().lower())


@bp.post("/authorize")
def confirm() -> ResponseReturnValue:
    """The person picked someone (or typed an address) and confirmed, or cancelled."""
    fields = request.form.to_dict(flat=False)
    for name in ("person", "email", "action"):
        fields.pop(name, None)
    auth = provider().authorization_request(fields)
    if request.form.get("action") != "confirm":
        raise OAuthError(
            "access_denied",
            "The person cancelled the sign-in.",
            redirect_uri=auth.redirect_uri,
            state=auth.state,
        )
    typed = (request.form.get("email") or "").strip()[:320]
    chosen = typed or (request.form.get("person") or "").strip()
    try:
        person = provider().choose_person(chosen)
    except ValueError as exc:
        return _sign_in_page(auth, chosen=chosen.lower(), error=str(exc), status=400)
    params = {"code": provider().issue_code(auth, person), "state": auth.state}
    return no_store(redirect(_with_query(auth.redirect_uri, params), code=303))


@bp.post("/token")
def token() -> ResponseReturnValue:
    basic = request.authorization
    from_basic = basic is not None and basic.type == "basic"
    form = request.form
    for name in ("grant_type", "code", "redirect_uri", "code_verifier"):
        if len(form.getlist(name)) > 1:
            raise OAuthError("invalid_request", f"The {name} parameter is repeated.")
    answer = provider().exchange(
        TokenRequest(
            grant_type=form.get("grant_type"),
            code=form.get("code"),
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
            client_id=basic.username if from_basic else form.get("client_id"),
            client_secret=basic.password if from_basic else form.get("client_secret"),
        )
    )
    return no_store(jsonify(answer))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else None
    return no_store(jsonify(provider().userinfo(bearer)))


def _sign_in_page(
    auth: AuthorizationRequest, *, chosen: str, error: str | None = None, status: int = 200
) -> Response:
    return sign_in_page(
        people=PEOPLE,
        fields=auth.as_form(),
        action=url_for("demo_idp.confirm"),
        audience=f"OpenID Connect client {auth.client_id}",
        chosen=chosen,
        error=error,
        status=status,
    )


def sign_in_page(
    *,
    people: tuple[DemoPerson, ...],
    fields: dict[str, str],
    action: str,
    audience: str,
    chosen: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The page where the person picks who signs in (OIDC and SAML alike); ``fields`` carry the request."""
    listed = {p.email for p in people}
    html = render_template(
        "demo_idp/authorize.html",
        people=people,
        domains=DOMAINS,
        fields=fields,
        action=action,
        audience=audience,
        chosen=chosen,
        typed="" if chosen in listed else chosen,
        error=error,
    )
    response = make_response(html, status, {"Content-Type": "text/html; charset=utf-8"})
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return no_store(response)


def _with_query(url: str, params: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"


@bp.errorhandler(OAuthError)
def oauth_error(error: OAuthError) -> ResponseReturnValue:
    log.info("demo idp refused: %s", error.error)
    if error.redirect_uri:
        params = {"error": error.error, "error_description": error.description, "state": error.state}
        return no_store(redirect(_with_query(error.redirect_uri, params), code=303))
    if request.endpoint in PAGE_ENDPOINTS:
        html = render_template("demo_idp/error.html", error=error)
        return no_store(make_response(html, error.status, {"Content-Type": "text/html; charset=utf-8"}))
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    if error.status == 401:
        kind = "Bearer" if request.endpoint == "demo_idp.userinfo" else "Basic"
        response.headers["WWW-Authenticate"] = f'{kind} realm="demo-idp", error="{error.error}"'
    return no_store(response)
