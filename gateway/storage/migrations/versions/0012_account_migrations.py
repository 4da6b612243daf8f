"""Account migrations between organizations, and each organization's purchase policy

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 03:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=20)


def upgrade() -> None:
    ts = gateway.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "account_migrations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("source_org_id", sa.String(length=36), nullable=False),
        sa.Column("target_org_id", sa.String(length=36), nullable=False),
        sa.Column("source_member_id", sa.String(length=36), nullable=False),
        sa.Column("role", _enum("role", "admin", "member"), nullable=False),
        sa.Column("target_mode", _enum("membershipmode", "sso", "invitation"), nullable=False),
        sa.Column("status", _enum("migrationstatus", "requested", "applied", "refused"), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=True),
        sa.Column("invitation_id", sa.String(length=36), nullable=True),
        sa.Column("confirmed_at", ts, nullable=True),
        sa.Column("approved_at", ts, nullable=True),
        sa.Column("approval", _enum("approval", "admin", "automatic", "support"), nullable=True),
        sa.Column("approved_by", sa.String(length=320), nullable=True),
        sa.Column("applied_at", ts, nullable=True),
        sa.Column("target_member_id", sa.String(length=36), nullable=True),
        sa.Column("refused_at", ts, nullable=True),
        sa.Column("refused_by", sa.String(length=320), nullable=True),
        sa.Column("refusal_code", sa.String(length=64), nullable=True),
        sa.Column("refusal_reason", sa.String(length=500), nullable=True),
        sa.Column("requested_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_account_migrations_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_member_id"],
            ["members.id"],
            name=op.f("fk_account_migrations_source_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_org_id"],
            ["organizations.id"],
            name=op.f("fk_account_migrations_source_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_member_id"],
            ["members.id"],
            name=op.f("fk_account_migrations_target_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_org_id"],
            ["organizations.id"],
            name=op.f("fk_account_migrations_target_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_migrations")),
    )
    with op.batch_alter_table("account_migrations", schema=None) as batch_op:
        batch_op.create_index("ix_account_migrations_source", ["source_org_id", "status"], unique=False)
        batch_op.create_index("ix_account_migrations_target", ["target_org_id", "status"], unique=False)
        batch_op.create_index(
            "uq_account_migrations_open",
            ["target_org_id", "email"],
            unique=True,
            sqlite_where=sa.text("status = 'requested'"),
            postgresql_where=sa.text("status = 'requested'"),
        )

    op.create_table(
        "purchase_policies",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("members_may_purchase", sa.Boolean(), nullable=False),
        sa.Column("monthly_limit_per_member", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=320), nullable=True),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(
            "monthly_limit_per_member IS NULL OR monthly_limit_per_member >= 0",
            name=op.f("ck_purchase_policies_limit_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_purchase_policies_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_purchase_policies")),
    )


def downgrade() -> None:
    op.drop_table("purchase_policies")
    with op.batch_alter_table("account_migrations", schema=None) as batch_op:
        batch_op.drop_index("uq_account_migrations_open")
        batch_op.drop_index("ix_account_migrations_target")
        batch_op.drop_index("ix_account_migrations_source")
    op.drop_table("account_migrations")
