"""demo identity provider: authorization codes already redeemed (single use across processes)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_idp_redeemed_codes",
        sa.Column("code_id", sa.String(length=64), nullable=False),
        sa.Column("redeemed_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_id", name=op.f("pk_demo_idp_redeemed_codes")),
    )
    op.create_index(
        "ix_demo_idp_redeemed_codes_expires_at", "demo_idp_redeemed_codes", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_demo_idp_redeemed_codes_expires_at", table_name="demo_idp_redeemed_codes")
    op.drop_table("demo_idp_redeemed_codes")
