"""Invitations (invitation mode): send to one or many addresses, list with expiry, revoke, resend.

An accept link exists only in the answer to the post that issued it; it is shown on that page once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page, field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.console.presenters import accept_url
from gateway.domain import model as m
from gateway.domain.errors import DomainError, InvalidInput
from gateway.domain.policy import normalize_email, role_from_value
from gateway.wiring import services

MAX_EMAILS = 100
_SEPARATORS = re.compile(r"[\s,;]+")
STATUS_FILTERS = [("", "All"), *((s.value, s.value.capitalize()) for s in m.InvitationStatus)]


@dataclass(frozen=True)
class Sent:
    email: str
    link: str | None = None
    error: str | None = None
    code: str | None = None


def _page(
    *, errors: dict[str, str] | None = None, emails: str = "", role: str = "member",
    sent: list[Sent] | None = None, status: int = 200,
) -> ResponseReturnValue:  # fmt: skip
    org = viewer().org
    wanted = request.args.get("status") or ""
    try:
        stored = m.InvitationStatus(wanted) if wanted else None
    except ValueError:
        stored = None
    page = Page.from_request()
    items, total = services().invitations.list(org.id, status=stored, offset=page.offset, limit=page.size)
    response = make_response(
        render_template(
            "console/invitations.html",
            title="Invitations",
            section="console.invitations",
            invitations=items,
            page=page.with_total(total),
            status_filter=stored.value if stored else "",
            status_filters=STATUS_FILTERS,
            invitation_mode=org.mode is m.MembershipMode.INVITATION,
            errors=errors,
            emails=emails,
            role=role,
            sent=sent or [],
        ),
        status,
    )
    if sent:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/invitations")
@admin_page
def invitations() -> ResponseReturnValue:
    return _page()


def _parse_emails(raw: str) -> list[str]:
    """Every address in the field, normalized and de-duplicated; ``InvalidInput`` naming all the bad ones."""
    values = [v for v in _SEPARATORS.split(raw) if v]
    if not values:
        raise InvalidInput("Enter at least one email address.", field="emails")
    if len(values) > MAX_EMAILS:
        raise InvalidInput(f"Send at most {MAX_EMAILS} invitations at once.", field="emails")
    good, bad = [], []
    for value in values:
        try:
            email = normalize_email(value)
        except InvalidInput:
            bad.append(value)
            continue
        if email not in good:
            good.append(email)
    if bad:
        raise InvalidInput(
            "Not an email address: "
            + ", ".join(bad)
            + ". Nothing was sent; correct the list and send again.",
            field="emails",
        )
    return good


@bp.post("/invitations")
def send_invitations() -> ResponseReturnValue:
    """Every address is checked before any is sent; each one then succeeds or fails on its own."""
    raw, role_value = text("emails", 40000), text("role") or "member"
    try:
        role = role_from_value(role_value)
        emails = _parse_emails(raw)
    except DomainError as error:
        return _page(errors=field_errors(error, "emails"), emails=raw, role=role_value, status=400)
    sent: list[Sent] = []
    for email in emails:
        try:
            issued = services().invitations.create(viewer().org.id, email, role, viewer().actor())
        except DomainError as error:
            sent.append(Sent(email, error=error.message, code=error.code))
            continue
        sent.append(Sent(email, link=accept_url(issued.token)))
    failed = [s for s in sent if s.error]
    errors = (
        {"emails": f"{len(failed)} of {len(sent)} invitation(s) were not sent; see below."}
        if failed
        else None
    )
    return _page(sent=sent, errors=errors, emails="\n".join(s.email for s in failed), role=role.value)


@bp.post("/invitations/<invitation_id>/revoke")
def revoke_invitation(invitation_id: str) -> ResponseReturnValue:
    invitation = services().invitations.revoke(viewer().org.id, invitation_id, viewer().actor())
    flash(f"The invitation to {invitation.email} is revoked; its link no longer works.", "ok")
    return redirect(url_for("console.invitations"), code=303)


@bp.post("/invitations/<invitation_id>/resend")
def resend_invitation(invitation_id: str) -> ResponseReturnValue:
    issued = services().invitations.resend(viewer().org.id, invitation_id, viewer().actor())
    return _page(sent=[Sent(issued.invitation.email, link=accept_url(issued.token))])
