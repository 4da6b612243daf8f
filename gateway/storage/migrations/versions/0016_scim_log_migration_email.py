"""SCIM request log: the address of a push refused because its account belongs to another organization

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scim_request_log", sa.Column("migration_email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scim_request_log") as batch:
        batch.drop_column("migration_email")
