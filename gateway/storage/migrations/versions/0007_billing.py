"""Consolidated billing: the organization's credit ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 21:57:57.925239
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("purchase", "usage", name="creditkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("credits > 0", name=op.f("ck_credit_entries_positive_credits")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_credit_entries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_credit_entries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_credit_entries_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entries")),
    )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_credit_entries_org_at", ["org_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_entries_org_at")

    op.drop_table("credit_entries")
