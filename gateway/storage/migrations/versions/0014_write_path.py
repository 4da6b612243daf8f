"""Write path: userName unique among an organization's live users, held by the database; resources by creator

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-04 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_resources_creator", "resources", ["org_id", "created_by"])
    op.create_index(
        "uq_members_org_user_name_live",
        "members",
        ["org_id", sa.text("lower(user_name)")],
        unique=True,
        sqlite_where=sa.text("status != 'removed'"),
        postgresql_where=sa.text("status != 'removed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_resources_creator", table_name="resources")
    op.drop_index("uq_members_org_user_name_live", table_name="members")
