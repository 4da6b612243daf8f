"""The end of every sign-in, shared by the SAML and OIDC adapters: turn a verified identity into a member
session (or a clear refusal page), rotating the session so no token from before sign-in survives it."""

from __future__ import annotations

from flask import Response, g, make_response, redirect, render_template, request

from gateway.domain import model as m
from gateway.domain.errors import DomainError, Unavailable
from gateway.services.members import Profile
from gateway.web.redirects import safe_next
from gateway.web.session_cookie import read_session_token, set_session_cookie
from gateway.wiring import services

REFUSAL_TITLES = {
    "mode_forbids": "Single sign-on is not available for this organization",
    "member_inactive": "Your access is suspended",
    "deprovisioned": "Your access was removed",
    "email_blocked": "This email address cannot join",
    "account_in_other_organization": "This account belongs to another organization",
    "address_domain_owned": "This email address belongs to another organization",
}


def request_actor(kind: m.ActorType, actor_id: str | None, label: str | None) -> m.Actor:
    return m.Actor(kind, id=actor_id, label=label, ip=request.remote_addr, request_id=g.get("request_id"))


def start_member_session(
    org_id: str, member_id: str, actor: m.Actor, next_url: str | None, **data: object
) -> Response:
    """End whatever session the browser had, start a new one for the member, redirect to a safe target."""
    token = services().sessions.sign_in(org_id, member_id, actor, read_session_token() or None, data)
    response = make_response(redirect(safe_next(next_url), code=303))
    return set_session_cookie(response, token)


def complete_sso_sign_in(
    connection: m.SsoConnection,
    email: str,
    *,
    role: m.Role | None = None,
    profile: Profile | None = None,
    next_url: str | None = None,
    session_data: dict | None = None,
    audit_details: dict | None = None,
) -> Response:
    """Sign in (or create just in time) the member an SSO connection vouched for, or show why not.
    ``audit_details`` go into the sign-in's audit event (e.g. why the role was kept)."""
    actor = request_actor(
        m.ActorType.MEMBER, connection.id, f"{connection.protocol.value} connection {connection.slug}"
    )
    try:
        result = services().members.sso_sign_in(
            connection.org_id, email, actor, role=role, profile=profile, audit_details=audit_details
        )
    except DomainError as error:
        return refusal_page(error)
    return start_member_session(connection.org_id, result.member.id, actor, next_url, **(session_data or {}))


def refusal_page(error: DomainError, status: int = 403) -> Response:
    title = REFUSAL_TITLES.get(error.code, "Sign-in refused")
    return message_page(title, error.message, status=status, code=error.code)


def message_page(
    title: str, message: str, *, status: int = 200, code: str | None = None, hint: str | None = None
) -> Response:
    html = render_template(
        "message.html", title=title, message=message, code=code, hint=hint, request_id=g.get("request_id")
    )
    return make_response(
        html, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    )


def unavailable_page(error: Unavailable) -> Response:
    """The sign-in pages' answer while the database is away: 503, ``Retry-After``, and what to do."""
    response = message_page(
        "Sign-in is briefly unavailable",
        "The gateway cannot reach its database right now. Nothing was changed.",
        status=503,
        code=error.code,
        hint=f"Try again in a few seconds (about {error.retry_after} s).",
    )
    response.headers["Retry-After"] = str(error.retry_after)
    return response
