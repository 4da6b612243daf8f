"""Account migrations (rule 12) in the console.

Admins of the target organization request one (with a preview first), often from a refused invitation, or a
refused sign-in or SCIM push listed here (the SCIM request log offers it too); Admins of the source organization approve or refuse; the person whose account it
is confirms it (or refuses it) here, signed in with their current sign-in."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import text
from gateway.console.guard import member_may_post, viewer
from gateway.domain.errors import DomainError
from gateway.domain.policy import normalize_email, role_from_value
from gateway.services.account_migration import MigrationPreview
from gateway.services.scim_log import ScimLogFilter
from gateway.wiring import services

REFUSED_ARRIVALS_SHOWN = 20


def _refused_arrivals(org_id: str) -> list[str]:
    """Addresses whose sign-in or SCIM push here was refused because their account belongs to another
    organization."""
    events, _ = services().audit.list(org_id, action="sign_in.refused", limit=200)
    emails: list[str] = []
    for event in events:
        email = (event.details or {}).get("email")
        if (event.details or {}).get("reason") == "account_in_other_organization" and email not in emails:
            emails.append(str(email))
    pushes, _ = services().scim_log.list(org_id, ScimLogFilter(offers_migration=True), limit=200)
    for entry in pushes:
        if entry.migration_email and entry.migration_email not in emails:
            emails.append(entry.migration_email)
    return emails[:REFUSED_ARRIVALS_SHOWN]


def _page(
    *,
    errors: dict[str, str] | None = None,
    email: str = "",
    role: str = "member",
    preview: MigrationPreview | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    me = viewer()
    migrations = services().migrations
    items = migrations.list(me.org.id) if me.is_admin else []
    mine = migrations.waiting_for(me.org.id, me.member.id)
    names = migrations.org_names([oid for x in [*items, *mine] for oid in (x.source_org_id, x.target_org_id)])
    html = render_template(
        "console/migrations.html",
        title="Account migrations",
        section="console.migrations",
        migrations=items,
        mine=mine,
        names=names,
        refused=_refused_arrivals(me.org.id) if me.is_admin else [],
        errors=errors,
        email=email or request.args.get("email", "")[:320],
        role=role,
        preview=preview,
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/migrations")
def migrations() -> ResponseReturnValue:
    return _page()


@bp.post("/migrations")
def request_migration() -> ResponseReturnValue:
    """``action=preview`` shows the dry run; ``action=request`` opens the request."""
    me = viewer()
    raw_email, role_value = text("email", 320), text("role") or "member"
    try:
        email = normalize_email(raw_email)
        role = role_from_value(role_value)
        if text("action") == "preview":
            preview = services().migrations.preview(me.org.id, email, role)
            return _page(email=email, role=role.value, preview=preview)
        migration = services().migrations.request(me.org.id, email, me.actor(), role)
    except DomainError as error:
        return _page(errors={"email": error.message}, email=raw_email, role=role_value, status=400)
    waiting = "the person's confirmation" + (
        "" if migration.approval else " and their organization's approval"
    )
    flash(f"Migration of {migration.email} requested; it waits for {waiting}.", "ok")
    return redirect(url_for("console.migrations"), code=303)


@bp.post("/migrations/<migration_id>/approve")
def approve_migration(migration_id: str) -> ResponseReturnValue:
    me = viewer()
    try:
        migration = services().migrations.approve(me.org.id, migration_id, me.actor())
    except DomainError as error:
        flash(error.message, "error")
    else:
        done = "applied" if migration.applied_at else "approved; it is applied once the person confirms"
        flash(f"The migration of {migration.email} is {done}.", "ok")
    return redirect(url_for("console.migrations"), code=303)


@bp.post("/migrations/<migration_id>/refuse")
@member_may_post
def refuse_migration(migration_id: str) -> ResponseReturnValue:
    me = viewer()
    try:
        migration = services().migrations.decline(
            me.org.id,
            migration_id,
            me.actor(),
            reason=text("reason", 500),
            as_member_id=None if me.is_admin and text("as") != "person" else me.member.id,
        )
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"The migration of {migration.email} is refused.", "ok")
    return redirect(url_for("console.migrations"), code=303)


@bp.post("/migrations/<migration_id>/confirm")
@member_may_post
def confirm_migration(migration_id: str) -> ResponseReturnValue:
    """The person confirms with the session they signed in with (it must be newer than the request)."""
    me = viewer()
    try:
        migration = services().migrations.confirm(
            me.org.id, migration_id, me.member.id, me.signed_in.session.created_at, me.actor()
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("console.migrations"), code=303)
    if migration.applied_at:
        names = services().migrations.org_names([migration.target_org_id])
        flash(
            f"Your account moved to {names.get(migration.target_org_id, 'the new organization')}. "
            "Sign in again to continue there.",
            "ok",
        )
        return redirect("/login", code=303)
    flash("Confirmed. The move happens as soon as an Admin of your organization approves it.", "ok")
    return redirect(url_for("console.migrations"), code=303)
