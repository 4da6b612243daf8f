"""Exact list sizes kept by triggers (list_counts)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:00:00

``list_counts`` holds each organization's number of members per status and of audit events, kept by triggers
on ``members`` and ``audit_events`` (``gateway.storage.count_tables``), filled here from the rows that exist.
The SQL is written out here so that this revision keeps building the same objects whatever the code becomes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_ai AFTER INSERT ON members BEGIN INSERT INTO list_counts (org_id, list, shard, n) VALUES (new.org_id, 'members.' || new.status, 0, 1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_ad AFTER DELETE ON members BEGIN INSERT INTO list_counts (org_id, list, shard, n) VALUES (old.org_id, 'members.' || old.status, 0, -1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_au AFTER UPDATE OF status, org_id ON members WHEN old.status IS NOT new.status OR old.org_id IS NOT new.org_id BEGIN INSERT INTO list_counts (org_id, list, shard, n) VALUES (old.org_id, 'members.' || old.status, 0, -1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; INSERT INTO list_counts (org_id, list, shard, n) VALUES (new.org_id, 'members.' || new.status, 0, 1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_audit_ai AFTER INSERT ON audit_events BEGIN INSERT INTO list_counts (org_id, list, shard, n) VALUES (new.org_id, 'audit', 0, 1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_audit_ad AFTER DELETE ON audit_events BEGIN INSERT INTO list_counts (org_id, list, shard, n) VALUES (old.org_id, 'audit', 0, -1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n; END",
]
POSTGRES = [
    "CREATE OR REPLACE FUNCTION list_counts_members() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN INSERT INTO list_counts (org_id, list, shard, n) VALUES (OLD.org_id, 'members.' || OLD.status, mod(pg_backend_pid(), 64)::smallint, -1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = list_counts.n + excluded.n; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO list_counts (org_id, list, shard, n) VALUES (NEW.org_id, 'members.' || NEW.status, mod(pg_backend_pid(), 64)::smallint, 1) ON CONFLICT (org_id, list, shard) DO UPDATE SET n = list_counts.n + excluded.n; END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION list_counts_audit_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO list_counts (org_id, list, shard, n) SELECT org_id, 'audit', mod(pg_backend_pid(), 64)::smallint, count(*) FROM added GROUP BY org_id ON CONFLICT (org_id, list, shard) DO UPDATE SET n = list_counts.n + excluded.n; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION list_counts_audit_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO list_counts (org_id, list, shard, n) SELECT org_id, 'audit', mod(pg_backend_pid(), 64)::smallint, -count(*) FROM deleted GROUP BY org_id ON CONFLICT (org_id, list, shard) DO UPDATE SET n = list_counts.n + excluded.n; RETURN NULL; END $$",
    "CREATE TRIGGER list_counts_members_insert_delete AFTER INSERT OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION list_counts_members()",
    "CREATE TRIGGER list_counts_members_update AFTER UPDATE OF status, org_id ON members FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.org_id IS DISTINCT FROM NEW.org_id) EXECUTE FUNCTION list_counts_members()",
    "CREATE TRIGGER list_counts_audit_insert AFTER INSERT ON audit_events REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION list_counts_audit_added()",
    "CREATE TRIGGER list_counts_audit_delete AFTER DELETE ON audit_events REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION list_counts_audit_deleted()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS list_counts_audit_delete ON audit_events",
    "DROP TRIGGER IF EXISTS list_counts_audit_insert ON audit_events",
    "DROP TRIGGER IF EXISTS list_counts_members_update ON members",
    "DROP TRIGGER IF EXISTS list_counts_members_insert_delete ON members",
    "DROP FUNCTION IF EXISTS list_counts_audit_deleted()",
    "DROP FUNCTION IF EXISTS list_counts_audit_added()",
    "DROP FUNCTION IF EXISTS list_counts_members()",
]
BACKFILL = [
    "INSERT INTO list_counts (org_id, list, shard, n) SELECT org_id, 'members.' || status, 0, count(*) FROM members GROUP BY org_id, status",
    "INSERT INTO list_counts (org_id, list, shard, n) SELECT org_id, 'audit', 0, count(*) FROM audit_events GROUP BY org_id",
]


def upgrade() -> None:
    op.create_table(
        "list_counts",
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("list", sa.String(40), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "list", "shard", name="pk_list_counts"),
    )
    # The counts start from the rows, then the triggers keep them (a migration runs alone).
    for statement in BACKFILL:
        op.execute(statement)
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("members_ai", "members_ad", "members_au", "audit_ai", "audit_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS list_counts_{name}")
    else:
        for statement in POSTGRES_DROP:
            op.execute(statement)
    op.drop_table("list_counts")
