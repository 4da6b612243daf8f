"""Account migrations (rule 12): the target organization requests one (with a dry run), the person confirms
it with their current sign-in, an Admin of the source organization approves it, and either side (or the
person) can refuse it. Support applies or refuses from the CLI (``gateway account migrate``)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from gateway.api.auth import Access, PrincipalKind, access, principal, require_admin
from gateway.api.blueprint import bp
from gateway.api.errors import forbidden
from gateway.api.inputs import load_body
from gateway.domain import model as m
from gateway.services.account_migration import MigrationPreview
from gateway.storage.account_migration_tables import AccountMigration
from gateway.web.session_cookie import read_session_token
from gateway.wiring import services


class MigrationBody(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.Enum(m.Role, by_value=True)
    dry_run = fields.Bool(load_default=False)


class RefusalBody(Schema):
    reason = fields.Str(load_default="", validate=validate.Length(max=500))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def migration_out(value: AccountMigration, names: dict[str, str], viewer_org_id: str) -> dict[str, Any]:
    """The target side learns which organization holds the account only once the person confirmed."""
    shown = viewer_org_id == value.source_org_id or value.confirmed_at is not None
    return {
        "id": value.id,
        "email": value.email,
        "status": value.status.value,
        "role": value.role.value,
        "source": {"id": value.source_org_id, "name": names.get(value.source_org_id)} if shown else None,
        "target": {
            "id": value.target_org_id,
            "name": names.get(value.target_org_id),
            "mode": value.target_mode.value,
        },
        "requested_at": _iso(value.requested_at),
        "requested_by": value.requested_by,
        "invitation_id": value.invitation_id,
        "confirmed_at": _iso(value.confirmed_at),
        "approval": value.approval.value if value.approval else None,
        "approved_at": _iso(value.approved_at),
        "approved_by": value.approved_by,
        "applied_at": _iso(value.applied_at),
        "target_member_id": value.target_member_id,
        "refused_at": _iso(value.refused_at),
        "refused_by": value.refused_by,
        "refusal_code": value.refusal_code,
        "refusal_reason": value.refusal_reason,
    }


def preview_out(value: MigrationPreview) -> dict[str, Any]:
    return {
        "dry_run": True,
        "allowed": value.allowed,
        "email": value.email,
        "role": value.role.value,
        "source": {"id": value.source.id, "name": value.source.name} if value.source else None,
        "target": {"id": value.target.id, "name": value.target.name, "mode": value.target.mode.value},
        "needs_approval": value.needs_approval,
        "effects": value.effects,
        "refusal": {"code": value.refusal.code, "detail": value.refusal.message} if value.refusal else None,
    }


def _out(*items: AccountMigration) -> list[dict[str, Any]]:
    ids = [oid for x in items for oid in (x.source_org_id, x.target_org_id)]
    names = services().migrations.org_names(ids)
    return [migration_out(x, names, principal().org.id) for x in items]


def _visible(migration: AccountMigration) -> AccountMigration:
    """Admins of either side see a migration; a Member only the one of their own account."""
    caller = principal()
    if not caller.is_admin and migration.source_member_id != caller.member_id:
        raise forbidden("Only Admins, and the person whose account it is, can see this migration.")
    return migration


@bp.post("/account-migrations")
@access(Access.ADMIN)
def request_migration() -> ResponseReturnValue:
    """Ask to move the account of ``email`` (which belongs to another organization) into this one;
    ``dry_run`` answers with the effects or the refusal, and changes nothing."""
    body = load_body(MigrationBody())
    caller = principal()
    if body["dry_run"]:
        preview = services().migrations.preview(caller.org.id, body["email"], body.get("role"))
        return jsonify(preview_out(preview))
    migration = services().migrations.request(caller.org.id, body["email"], caller.actor(), body.get("role"))
    return jsonify(_out(migration)[0]), 201


@bp.get("/account-migrations")
@access(Access.READ)
def list_migrations() -> ResponseReturnValue:
    caller = principal()
    if caller.is_admin:
        items = services().migrations.list(caller.org.id)
    else:
        items = services().migrations.waiting_for(caller.org.id, caller.member_id or "")
    return jsonify({"items": _out(*items)})


@bp.get("/account-migrations/<migration_id>")
@access(Access.READ)
def get_migration(migration_id: str) -> ResponseReturnValue:
    migration = _visible(services().migrations.get(principal().org.id, migration_id))
    return jsonify(_out(migration)[0])


@bp.post("/account-migrations/<migration_id>/confirm")
@access(Access.MEMBER)
def confirm_migration(migration_id: str) -> ResponseReturnValue:
    """The person, signed in (a session, not a key) with their current sign-in after the request was made."""
    caller = principal()
    signed_in = services().sessions.resolve(read_session_token() or "")
    if caller.kind is not PrincipalKind.SESSION or signed_in is None:
        raise forbidden(
            "Confirm a migration signed in as yourself, with your current sign-in (not an API key)."
        )
    migration = services().migrations.confirm(
        caller.org.id, migration_id, signed_in.member.id, signed_in.session.created_at, caller.actor()
    )
    return jsonify(_out(migration)[0])


@bp.post("/account-migrations/<migration_id>/approve")
@access(Access.ADMIN)
def approve_migration(migration_id: str) -> ResponseReturnValue:
    caller = principal()
    require_admin(caller)
    migration = services().migrations.approve(caller.org.id, migration_id, caller.actor())
    return jsonify(_out(migration)[0])


@bp.post("/account-migrations/<migration_id>/refuse")
@access(Access.MEMBER)
def refuse_migration(migration_id: str) -> ResponseReturnValue:
    """An Admin of either organization, or the person, refuses an open migration."""
    body = load_body(RefusalBody())
    caller = principal()
    migration = services().migrations.decline(
        caller.org.id,
        migration_id,
        caller.actor(),
        reason=body["reason"],
        as_member_id=None if caller.is_admin else caller.member_id or "",
    )
    return jsonify(_out(migration)[0])
