"""Support's path for moving an account between organizations (rule 12):
``gateway account migrate EMAIL --to ORG [--dry-run]`` and ``gateway account refuse-migration EMAIL --to ORG``."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.domain.policy import role_from_value
from gateway.services.account_migration import MigrationPreview
from gateway.storage.account_migration_tables import AccountMigration
from gateway.wiring import services

ROLES = click.Choice(["admin", "member"], case_sensitive=False)


def migration_json(value: AccountMigration) -> dict[str, Any]:
    return {
        "id": value.id,
        "email": value.email,
        "status": value.status.value,
        "role": value.role.value,
        "source_org_id": value.source_org_id,
        "target_org_id": value.target_org_id,
        "approval": value.approval.value if value.approval else None,
        "target_member_id": value.target_member_id,
        "refusal_code": value.refusal_code,
        "refusal_reason": value.refusal_reason,
    }


def preview_json(value: MigrationPreview) -> dict[str, Any]:
    return {
        "dry_run": True,
        "allowed": value.allowed,
        "email": value.email,
        "role": value.role.value,
        "source": value.source.slug if value.source else None,
        "target": value.target.slug,
        "effects": value.effects,
        "refusal": {"code": value.refusal.code, "detail": value.refusal.message} if value.refusal else None,
    }


@cli.group()
def account() -> None:
    """Accounts across organizations (support)."""


@account.command("migrate")
@click.argument("email")
@click.option("--to", "target", required=True, help="The organization (slug or id) the account moves into.")
@click.option(
    "--role", type=ROLES, help="Role in the target organization (default: the request's, or member)."
)
@click.option("--dry-run", is_flag=True, help="Only report what would happen, or why it is refused.")
@json_option
@with_appcontext
@handles_errors
def migrate(email: str, target: str, role: str | None, dry_run: bool, as_json: bool) -> None:
    """Move the account of EMAIL into another organization, standing in for the person's confirmation and the
    source organization's approval. The mode rules and every other refusal still apply."""
    svc = services()
    organization = svc.orgs.resolve(target)
    wanted = role_from_value(role) if role else None
    if dry_run:
        preview = svc.migrations.support_preview(email, organization.id, wanted)
        human = "\n".join(preview.effects) if preview.allowed else f"Refused: {preview.refusal.message}"  # type: ignore[union-attr]
        emit(as_json, preview_json(preview), f"Dry run for {email} -> {organization.slug}:\n{human}")
        if not preview.allowed:
            sys.exit(1)
        return
    migration = svc.migrations.support_apply(email, organization.id, m.Actor.cli(), wanted)
    emit(
        as_json,
        migration_json(migration),
        f"Migrated {migration.email} into {organization.slug} as {migration.role.value} (migration {migration.id}).",
    )


@account.command("refuse-migration")
@click.argument("email")
@click.option("--to", "target", required=True, help="The organization (slug or id) that requested it.")
@click.option("--reason", default="", help="Why, kept with the migration and in both audit logs.")
@json_option
@with_appcontext
@handles_errors
def refuse_migration(email: str, target: str, reason: str, as_json: bool) -> None:
    """Refuse the open request to move EMAIL into an organization."""
    svc = services()
    organization = svc.orgs.resolve(target)
    migration = svc.migrations.support_refuse(email, organization.id, m.Actor.cli(), reason)
    emit(
        as_json,
        migration_json(migration),
        f"Refused the migration of {migration.email} into {organization.slug}.",
    )
