"""Credentials follow people, SAML bound to the browser: the creator of an admin API key, the browser binding
of a remembered AuthnRequest

Revision ID: 0010
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("created_by_member_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            "fk_api_keys_created_by_member_id_members",
            "members",
            ["created_by_member_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_api_keys_created_by", ["org_id", "created_by_member_id"])
    with op.batch_alter_table("saml_requests") as batch:
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("saml_requests") as batch:
        batch.drop_column("browser_hash")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_created_by")
        batch.drop_constraint("fk_api_keys_created_by_member_id_members", type_="foreignkey")
        batch.drop_column("created_by_member_id")
