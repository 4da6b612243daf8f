"""``/me`` (the signed-in member as JSON) and ``/logout``."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue

from gateway.web.redirects import safe_next
from gateway.web.session_cookie import clear_session_cookie, read_session_token
from gateway.web.signin import message_page
from gateway.wiring import services, settings

bp = Blueprint("account", __name__)

LOGOUT_HOOKS: list = []


@bp.get("/me")
def me() -> ResponseReturnValue:
    with services().db.scope(write=False):
        signed_in = services().sessions.resolve(read_session_token() or "")
        if signed_in is None:
            return jsonify(error="not_signed_in", detail="No valid session; sign in first."), 401
        member, org = signed_in.member, signed_in.org
        projects = services().members.projects_of(org.id, member.id)
    return jsonify(
        id=member.id,
        email=member.email,
        display_name=member.display_name,
        given_name=member.given_name,
        family_name=member.family_name,
        role=member.role.value,
        status=member.status.value,
        organization={"id": org.id, "slug": org.slug, "name": org.name, "mode": org.mode.value},
        projects=[{"id": p.id, "name": p.name, "is_default": p.is_default} for p in projects],
        session={
            "created_at": signed_in.session.created_at.isoformat(),
            "expires_at": signed_in.session.expires_at.isoformat(),
        },
    )


def logout_token(session_token: str) -> str:
    """The CSRF token of the sign-out form: an HMAC of the session token, so only a page of this gateway
    (which can read it from the page it served) can end the session."""
    key = settings().secret_key.encode()
    return hmac.new(key, b"gateway-logout\0" + session_token.encode(), hashlib.sha256).hexdigest()


@bp.app_template_global("logout_csrf")
def logout_csrf() -> str:
    """For templates: the sign-out form's CSRF token for the current browser's session ('' when none)."""
    token = read_session_token()
    return logout_token(token) if token else ""


@bp.get("/logout")
def logout_confirm() -> ResponseReturnValue:
    """Signing out is a POST with a CSRF token (a link or image elsewhere cannot sign anyone out); a GET shows
    the confirmation form."""
    next_url = safe_next(request.args.get("next"), default="/login")
    token = read_session_token()
    if not token or services().sessions.resolve(token) is None:
        return clear_session_cookie(make_response(redirect(next_url, code=303)))
    html = render_template(
        "logout.html", action=f"/logout?{urlencode({'next': next_url})}", csrf_token=logout_token(token)
    )
    return make_response(html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


@bp.post("/logout")
def logout() -> Response:
    """End the session. Protocol adapters may register a hook that returns a redirect to the IdP for
    single logout (SAML SLO); the first hook that answers wins."""
    token = read_session_token()
    signed_in = services().sessions.resolve(token or "") if token else None
    if signed_in is not None and token is not None:
        sent = request.form.get("logout_token", "")
        if not hmac.compare_digest(sent.encode(), logout_token(token).encode()):
            return message_page(
                "Sign-out not confirmed",
                "The sign-out form expired or did not come from this gateway. Open /logout and confirm.",
                status=400,
                code="logout_csrf",
            )
    if token:
        services().sessions.end(token)
    for hook in LOGOUT_HOOKS:
        answer = hook(signed_in)
        if answer is not None:
            return clear_session_cookie(answer)
    response = make_response(redirect(safe_next(request.args.get("next"), default="/login"), code=303))
    return clear_session_cookie(response)
