"""scim: IdP groups, group members, group -> role mappings, users' email rows, SCIM lookup indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 21:08:16.629455

Generated with ``alembic revision --autogenerate`` against a database at 0001, keeping only the SCIM tables;
the expression indexes (``lower(...)``), which autogenerate cannot compare, are written by hand to match
``gateway/storage/scim_tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = gateway.storage.tables.UtcDateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("external_id", sa.String(length=320), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _org_fk("scim_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
    )
    op.create_index("ix_scim_groups_org_external_id", "scim_groups", ["org_id", "external_id"], unique=False)
    op.create_index(
        "uq_scim_groups_org_display_name",
        "scim_groups",
        ["org_id", sa.text("lower(display_name)")],
        unique=True,
    )

    op.create_table(
        "scim_group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("display", sa.String(length=256), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scim_groups.id"],
            name=op.f("fk_scim_group_members_group_id_scim_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_scim_group_members_member_id_members"),
            ondelete="CASCADE",
        ),
        _org_fk("scim_group_members"),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_scim_group_members")),
    )
    op.create_index(
        "ix_scim_group_members_org_member", "scim_group_members", ["org_id", "member_id"], unique=False
    )

    op.create_table(
        "scim_group_role_mappings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("group_name", sa.String(length=256), nullable=False),
        sa.Column(
            "role", sa.Enum("admin", "member", name="role", native_enum=False, length=20), nullable=False
        ),
        sa.Column("created_at", TS, nullable=False),
        _org_fk("scim_group_role_mappings"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_group_role_mappings")),
    )
    op.create_index(
        "uq_scim_group_role_mappings_org_group_name",
        "scim_group_role_mappings",
        ["org_id", sa.text("lower(group_name)")],
        unique=True,
    )

    op.create_table(
        "scim_user_emails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_scim_user_emails_member_id_members"),
            ondelete="CASCADE",
        ),
        _org_fk("scim_user_emails"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_user_emails")),
    )
    op.create_index("ix_scim_user_emails_member", "scim_user_emails", ["member_id"], unique=False)
    op.create_index(
        "ix_scim_user_emails_org_value", "scim_user_emails", ["org_id", sa.text("lower(value)")], unique=False
    )

    op.create_index("ix_members_org_external_id", "members", ["org_id", "external_id"], unique=False)
    op.create_index(
        "ix_members_org_user_name_ci", "members", ["org_id", sa.text("lower(user_name)")], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_members_org_user_name_ci", table_name="members")
    op.drop_index("ix_members_org_external_id", table_name="members")
    op.drop_index("ix_scim_user_emails_org_value", table_name="scim_user_emails")
    op.drop_index("ix_scim_user_emails_member", table_name="scim_user_emails")
    op.drop_table("scim_user_emails")
    op.drop_index("uq_scim_group_role_mappings_org_group_name", table_name="scim_group_role_mappings")
    op.drop_table("scim_group_role_mappings")
    op.drop_index("ix_scim_group_members_org_member", table_name="scim_group_members")
    op.drop_table("scim_group_members")
    op.drop_index("uq_scim_groups_org_display_name", table_name="scim_groups")
    op.drop_index("ix_scim_groups_org_external_id", table_name="scim_groups")
    op.drop_table("scim_groups")
