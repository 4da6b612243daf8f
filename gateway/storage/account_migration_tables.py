"""Tables of account migrations (rule 12) and of each organization's purchase policy (rule 9).

An account migration is one row that both organizations see: the target organization requests it, the person
confirms it, the source organization (or support) approves it, and applying it moves the account in one
transaction. The purchase policy is one optional row per organization (no row: any member may buy, no limit).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.tables import TS, mapper_registry, metadata


class MigrationStatus(enum.StrEnum):
    REQUESTED = "requested"
    """Waiting for the person's confirmation and the source organization's approval."""
    APPLIED = "applied"
    REFUSED = "refused"


class Approval(enum.StrEnum):
    ADMIN = "admin"
    """An Admin of the source organization approved."""
    AUTOMATIC = "automatic"
    """The source organization has no other member (a personal account): nobody else to ask."""
    SUPPORT = "support"
    """Support applied it with ``gateway account migrate``."""


@dataclass(eq=False)
class AccountMigration:
    id: str
    email: str
    source_org_id: str
    target_org_id: str
    source_member_id: str
    role: m.Role
    target_mode: m.MembershipMode
    """The target's mode when requested; a switch before the migration is applied refuses it."""
    status: MigrationStatus
    requested_at: datetime
    updated_at: datetime
    requested_by: str | None = None
    invitation_id: str | None = None
    confirmed_at: datetime | None = None
    approved_at: datetime | None = None
    approval: Approval | None = None
    approved_by: str | None = None
    applied_at: datetime | None = None
    target_member_id: str | None = None
    refused_at: datetime | None = None
    refused_by: str | None = None
    refusal_code: str | None = None
    refusal_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status is MigrationStatus.REQUESTED

    def involves(self, org_id: str) -> bool:
        return org_id in (self.source_org_id, self.target_org_id)


@dataclass(eq=False)
class PurchasePolicy:
    """Who may buy credits for the organization, and how much each member may buy per calendar month (UTC)."""

    org_id: str
    updated_at: datetime
    members_may_purchase: bool = True
    """False: only Admins buy credits."""
    monthly_limit_per_member: int | None = None
    """Credits one member may buy per calendar month; None means no limit."""
    updated_by: str | None = None


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [x.value for x in e],
    )


def _org_fk(name: str, *, primary_key: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.String(36),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


account_migrations = sa.Table(
    "account_migrations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    _org_fk("source_org_id"),
    _org_fk("target_org_id"),
    sa.Column(
        "source_member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("role", _enum(m.Role), nullable=False),
    sa.Column("target_mode", _enum(m.MembershipMode), nullable=False),
    sa.Column("status", _enum(MigrationStatus), nullable=False),
    sa.Column("requested_by", sa.String(320)),
    sa.Column("invitation_id", sa.String(36), sa.ForeignKey("invitations.id", ondelete="SET NULL")),
    sa.Column("confirmed_at", TS),
    sa.Column("approved_at", TS),
    sa.Column("approval", _enum(Approval)),
    sa.Column("approved_by", sa.String(320)),
    sa.Column("applied_at", TS),
    sa.Column("target_member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="SET NULL")),
    sa.Column("refused_at", TS),
    sa.Column("refused_by", sa.String(320)),
    sa.Column("refusal_code", sa.String(64)),
    sa.Column("refusal_reason", sa.String(500)),
    sa.Column("requested_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_account_migrations_source", "source_org_id", "status"),
    sa.Index("ix_account_migrations_target", "target_org_id", "status"),
    # One open request per person per target organization.
    sa.Index(
        "uq_account_migrations_open",
        "target_org_id",
        "email",
        unique=True,
        sqlite_where=sa.text("status = 'requested'"),
        postgresql_where=sa.text("status = 'requested'"),
    ),
)

purchase_policies = sa.Table(
    "purchase_policies",
    metadata,
    _org_fk("org_id", primary_key=True),
    sa.Column("members_may_purchase", sa.Boolean, nullable=False, default=True),
    sa.Column("monthly_limit_per_member", sa.BigInteger),
    sa.Column("updated_by", sa.String(320)),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint(
        "monthly_limit_per_member IS NULL OR monthly_limit_per_member >= 0", name="limit_not_negative"
    ),
)

_MAPPINGS = [
    (AccountMigration, account_migrations),
    (PurchasePolicy, purchase_policies),
]


def map_account_migration_entities() -> None:
    """Map the dataclasses onto their tables, once per process."""
    if getattr(map_account_migration_entities, "done", False):
        return
    for cls, table in _MAPPINGS:
        mapper_registry.map_imperatively(cls, table)
    map_account_migration_entities.done = True  # type: ignore[attr-defined]
