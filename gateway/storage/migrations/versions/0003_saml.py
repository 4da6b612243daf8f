"""SAML: remembered AuthnRequest ids and the assertion-ID replay cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_requests",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["sso_connections.id"],
            name=op.f("fk_saml_requests_connection_id_sso_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_saml_requests_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_requests")),
    )
    op.create_index("ix_saml_requests_expires_at", "saml_requests", ["expires_at"], unique=False)
    op.create_table(
        "saml_assertions_seen",
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("assertion_id", sa.String(length=256), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("seen_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", gateway.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["sso_connections.id"],
            name=op.f("fk_saml_assertions_seen_connection_id_sso_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_saml_assertions_seen_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "assertion_id", name=op.f("pk_saml_assertions_seen")),
    )
    op.create_index(
        "ix_saml_assertions_seen_expires_at", "saml_assertions_seen", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_saml_assertions_seen_expires_at", table_name="saml_assertions_seen")
    op.drop_table("saml_assertions_seen")
    op.drop_index("ix_saml_requests_expires_at", table_name="saml_requests")
    op.drop_table("saml_requests")
