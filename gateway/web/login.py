"""``/login`` (email first, then home-realm discovery by verified domain) and the browser side of
invitations (``/invitations/accept``), plus the two outcomes of a platform-provider sign-in that the OIDC
adapter hands back here: accepting an invitation, or signing in a member of an invitation-mode organization.

SSO connections are started by URL (``/saml/<slug>/login``, ``/oidc/<slug>/login``, ``/login/platform``), so
this module imports no protocol adapter.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue

from gateway.domain import model as m
from gateway.domain.errors import DomainError, InvalidInput, InvitationInvalid, ModeForbids, RateLimited
from gateway.domain.policy import check_invitation_acceptable, email_domain, normalize_email
from gateway.services.connection_lifecycle import serving
from gateway.services.oidc_connections import PlatformSignInService
from gateway.web import abuse
from gateway.web.redirects import safe_next
from gateway.web.session_cookie import set_session_cookie
from gateway.web.signin import message_page, refusal_page, request_actor, start_member_session
from gateway.wiring import services

bp = Blueprint("login", __name__)

PLATFORM_LOGIN = "/login/platform"
INVITATION_TITLES = {
    "invitation_invalid": "This invitation link is not valid",
    "invitation_expired": "This invitation has expired",
    "invitation_revoked": "This invitation was revoked",
    "invitation_used": "This invitation was already used",
    "invitation_email_mismatch": "This invitation is for another email address",
    "mode_forbids": "Invitations are turned off for this organization",
    "account_in_other_organization": "This account belongs to another organization",
    "email_taken": "You are already a member",
}


def platform_name() -> str:
    platform = current_app.extensions.get("gateway.oidc")
    login = getattr(getattr(platform, "platform", None), "login", None)
    return getattr(login, "name", None) or "the platform login provider"


def _page(template: str, status: int = 200, **context: object) -> Response:
    html = render_template(template, request_id=g.get("request_id"), platform_name=platform_name(), **context)
    return make_response(
        html, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    )


def _with(path: str, **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


# -- /login -----------------------------------------------------------------------------------------------
@bp.get("/login")
def login_form() -> ResponseReturnValue:
    return _page("login.html", next=safe_next(request.args.get("next"), default=""), email="", error=None)


@bp.post("/login")
def login_submit() -> ResponseReturnValue:
    """Find the organization by the email's verified domain and send the browser to its way of signing in."""
    try:
        abuse.take("login")
    except RateLimited as error:
        return abuse.limited_page(error)
    next_url = safe_next(request.form.get("next"), default="") or None
    raw = (request.form.get("email") or "")[:320]
    try:
        email = normalize_email(raw)
    except InvalidInput:
        return _page("login.html", 400, next=next_url or "", email=raw, error="Enter a valid email address.")
    org = services().orgs.org_for_email_domain(email_domain(email))
    platform_url = _with(PLATFORM_LOGIN, next=next_url, login_hint=email)
    if org is None:
        return _page("login_unknown.html", email=email, platform_url=platform_url)
    if org.mode is m.MembershipMode.INVITATION:
        return _page("login_invitation_mode.html", org=org, email=email, platform_url=platform_url)
    usable = serving([c for c in services().connections.list(org.id) if c.is_usable], email_domain(email))
    if not usable:
        return _page("login_no_connection.html", org=org, email=email)
    targets = [
        (c, _with(f"/{c.protocol.value}/{c.slug}/login", next=next_url, login_hint=email)) for c in usable
    ]
    if len(targets) == 1:
        return redirect(targets[0][1], code=303)
    return _page("login_choose.html", org=org, email=email, targets=targets)


# -- invitations ------------------------------------------------------------------------------------------
@bp.get("/invitations/accept")
def invitation_page() -> ResponseReturnValue:
    """What an invitation link shows: who invites whom, or why the link cannot be used."""
    token = request.args.get("token") or ""
    svc = services()
    try:
        abuse.check("invitation")
    except RateLimited as error:
        return abuse.limited_page(error)
    try:
        invitation = svc.invitations.peek(token)
        org = svc.orgs.get(invitation.org_id).org
        _check_usable(org, invitation, svc.clock())
    except DomainError as error:
        if error.code == "invitation_invalid":  # an unknown token: what guessing produces
            abuse.failed("invitation")
        return invitation_refusal(error)
    return _page(
        "invitation.html",
        org=org,
        invitation=invitation,
        masked_email=_mask(invitation.email),
        sign_in_url=_with(PLATFORM_LOGIN, invitation=token, login_hint=invitation.email),
    )


def _check_usable(org: m.Organization, invitation: m.Invitation, now: datetime) -> None:
    """The checks that do not need the person's email (mode, used, revoked, expired), so a dead link says
    so before any sign-in; the email is checked again, for real, when the invitation is accepted."""
    check_invitation_acceptable(org, invitation, invitation.email, now)


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def invitation_refusal(error: DomainError, status: int | None = None) -> Response:
    if isinstance(error, InvitationInvalid | ModeForbids) or error.code in INVITATION_TITLES:
        title = INVITATION_TITLES.get(error.code, "This invitation cannot be used")
        default = 404 if error.code == "invitation_invalid" else 403 if error.code != "email_taken" else 409
        return message_page(title, error.message, status=status or default, code=error.code)
    return refusal_page(error)


def accept_invitation_with_identity(
    token: str, email: str, provider: str, subject: str, next_url: str | None
) -> Response:
    """The platform provider verified ``email``: record that identity in a session, accept the invitation
    with it, and turn the browser's session into a member session (or show why the invitation is refused,
    keeping the identity session so the person can see which account they used)."""
    svc = services()
    _, identity_token = svc.sessions.start_identity(email, True, provider, subject)
    actor = request_actor(m.ActorType.MEMBER, subject[:64], f"invitation accepted by {email}")
    try:
        member = svc.invitations.accept(token, email, actor)
    except DomainError as error:
        return set_session_cookie(invitation_refusal(error), identity_token)
    svc.sessions.end(identity_token)
    identity = {"email": member.email, "email_verified": True, "provider": provider, "subject": subject}
    return start_member_session(member.org_id, member.id, actor, next_url or "/me", identity=identity)


def sign_in_with_platform_identity(email: str, provider: str, subject: str, next_url: str | None) -> Response:
    """A member of an invitation-mode organization signs in with the platform provider's verified email."""
    svc = services()
    actor = request_actor(m.ActorType.MEMBER, subject[:64], f"platform sign-in by {email}")
    try:
        member = PlatformSignInService(*svc.deps).sign_in(email, actor)
    except DomainError as error:
        if error.code == "not_a_member":
            _, identity_token = svc.sessions.start_identity(email, True, provider, subject)
            page = message_page(
                "You are not a member of an organization yet", error.message, status=403, code=error.code
            )
            return set_session_cookie(page, identity_token)
        return refusal_page(error)
    identity = {"email": member.email, "email_verified": True, "provider": provider, "subject": subject}
    return start_member_session(member.org_id, member.id, actor, next_url or "/me", identity=identity)
