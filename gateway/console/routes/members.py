"""Members: search and paging, the member page (projects, resources created), role, suspend/restore, remove."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page, checked, field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.domain import model as m
from gateway.domain.errors import DomainError, LastAdmin
from gateway.domain.policy import role_from_value
from gateway.wiring import services

STATUS_FILTERS = [("", "Active and suspended"), *((s.value, s.value.capitalize()) for s in m.MemberStatus)]
ROLE_FILTERS = [("", "Any role"), ("admin", "Admin"), ("member", "Member")]


def _enum(kind: type, value: str | None):  # type: ignore[no-untyped-def]
    try:
        return kind(value) if value else None
    except ValueError:
        return None


@bp.get("/members")
def members() -> ResponseReturnValue:
    query = (request.args.get("q") or "").strip()[:320]
    status = _enum(m.MemberStatus, request.args.get("status"))
    role = _enum(m.Role, request.args.get("role"))
    page = Page.from_request()
    items, total = services().members.list(
        viewer().org.id, query=query or None, status=status, role=role, offset=page.offset, limit=page.size
    )
    return render_template(
        "console/members.html",
        title="Members",
        section="console.members",
        members=items,
        page=page.with_total(total),
        q=query,
        status=status.value if status else "",
        role=role.value if role else "",
        status_filters=STATUS_FILTERS,
        role_filters=ROLE_FILTERS,
    )


def _member_page(
    member_id: str, errors: dict[str, str] | None = None, *, last_admin: bool = False, status: int = 200
) -> ResponseReturnValue:
    org_id = viewer().org.id
    view = services().members.get(org_id, member_id)
    project_names = {p.id: p.name for p in services().projects.list(org_id)}
    return render_template(
        "console/member.html",
        title=view.member.email,
        section="console.members",
        view=view,
        project_names=project_names,
        errors=errors,
        last_admin=last_admin,
    ), status


@bp.get("/members/<member_id>")
def member(member_id: str) -> ResponseReturnValue:
    return _member_page(member_id)


@bp.post("/members/<member_id>/role")
def change_role(member_id: str) -> ResponseReturnValue:
    try:
        role = role_from_value(text("role"))
        updated = services().members.change_role(
            viewer().org.id, member_id, role, viewer().actor(), override=checked("override")
        )
    except DomainError as error:
        return _member_page(
            member_id, field_errors(error, "role"), last_admin=isinstance(error, LastAdmin), status=409
        )
    flash(f"{updated.email} is now {updated.role.value}.", "ok")
    return redirect(url_for("console.member", member_id=member_id), code=303)


@bp.post("/members/<member_id>/suspend")
def suspend(member_id: str) -> ResponseReturnValue:
    try:
        result = services().members.suspend(
            viewer().org.id, member_id, viewer().actor(), override=checked("override")
        )
    except DomainError as error:
        return _member_page(
            member_id, field_errors(error, "suspend"), last_admin=isinstance(error, LastAdmin), status=409
        )
    flash(
        f"{result.member.email} is suspended; {result.sessions_ended} session(s) ended, "
        f"{result.api_keys_revoked} admin API key(s) they created revoked.",
        "ok",
    )
    return redirect(url_for("console.member", member_id=member_id), code=303)


@bp.post("/members/<member_id>/restore")
def restore(member_id: str) -> ResponseReturnValue:
    try:
        restored = services().members.restore(viewer().org.id, member_id, viewer().actor())
    except DomainError as error:
        return _member_page(member_id, field_errors(error, "suspend"), status=409)
    flash(f"{restored.email} is active again.", "ok")
    return redirect(url_for("console.member", member_id=member_id), code=303)


def _remove_dialog(
    member_id: str, errors: dict[str, str] | None = None, *, last_admin: bool = False, status: int = 200
) -> ResponseReturnValue:
    view = services().members.get(viewer().org.id, member_id)
    return render_template(
        "console/member_remove.html",
        title=f"Remove {view.member.email}?",
        section="console.members",
        view=view,
        sso_mode=viewer().org.mode is m.MembershipMode.SSO,
        errors=errors,
        last_admin=last_admin,
    ), status


@bp.get("/members/<member_id>/remove")
def remove_dialog(member_id: str) -> ResponseReturnValue:
    """The confirmation, which says what removal takes away and what stays (and, in SSO mode, re-creation)."""
    return _remove_dialog(member_id)


@bp.post("/members/<member_id>/remove")
def remove(member_id: str) -> ResponseReturnValue:
    try:
        result = services().members.remove(
            viewer().org.id,
            member_id,
            viewer().actor(),
            block=checked("block"),
            override=checked("override"),
        )
    except DomainError as error:
        return _remove_dialog(
            member_id, field_errors(error, "remove"), last_admin=isinstance(error, LastAdmin), status=409
        )
    message = (
        f"{result.member.email} was removed: access to {result.project_access_revoked} project(s) revoked, "
        f"{result.sessions_ended} session(s) ended, {result.api_keys_revoked} API key(s) revoked; "
        f"{result.resources_kept} resource(s) they created stay."
    )
    if result.blocked:
        message += " The email is blocked, so single sign-on will not re-create them."
    flash(message, "ok")
    return redirect(url_for("console.member", member_id=member_id), code=303)


@bp.get("/blocked-emails")
@admin_page
def blocked_emails() -> ResponseReturnValue:
    return render_template(
        "console/blocked.html",
        title="Blocked email addresses",
        section="console.members",
        blocked=services().members.blocked_emails(viewer().org.id),
    )


@bp.post("/blocked-emails/unblock")
def unblock_email() -> ResponseReturnValue:
    email = text("email", 320)
    services().members.unblock_email(viewer().org.id, email, viewer().actor())
    flash(f"{email} is no longer blocked.", "ok")
    return redirect(url_for("console.blocked_emails"), code=303)
