"""``/me`` (the signed-in member as JSON) and ``/logout``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response, redirect, request
from flask.typing import ResponseReturnValue

from gateway.web.redirects import safe_next
from gateway.web.session_cookie import clear_session_cookie, read_session_token
from gateway.wiring import services

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


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    """End the session. Protocol adapters may register a hook that returns a redirect to the IdP for
    single logout (SAML SLO); the first hook that answers wins."""
    token = read_session_token()
    signed_in = services().sessions.resolve(token or "") if token else None
    if token:
        services().sessions.end(token)
    for hook in LOGOUT_HOOKS:
        answer = hook(signed_in)
        if answer is not None:
            return clear_session_cookie(answer)
    response = make_response(redirect(safe_next(request.args.get("next"), default="/login"), code=303))
    return clear_session_cookie(response)
