"""running SSO day to day: break-glass sign-in links, the SCIM request log

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = gateway.storage.tables.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "break_glass_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=True),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_break_glass_links_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_break_glass_links_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_break_glass_links_token_hash")),
    )
    op.create_index("ix_break_glass_links_member", "break_glass_links", ["org_id", "member_id"], unique=False)
    op.create_table(
        "scim_request_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("scim_type", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("token_prefix", sa.String(length=20), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_scim_request_log_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_request_log")),
    )
    op.create_index("ix_scim_request_log_org_at", "scim_request_log", ["org_id", "at"], unique=False)
    op.create_index("ix_scim_request_log_at", "scim_request_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scim_request_log_at", table_name="scim_request_log")
    op.drop_index("ix_scim_request_log_org_at", table_name="scim_request_log")
    op.drop_table("scim_request_log")
    op.drop_index("ix_break_glass_links_member", table_name="break_glass_links")
    op.drop_table("break_glass_links")
