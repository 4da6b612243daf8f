"""SSO connections: a revision that every write of the row changes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 03:40:00

``sso_connections.revision`` is a random value that a trigger draws again on every INSERT and UPDATE of the
row, whatever statement makes it, so a process that keeps a copy of a connection can tell, in one column of a
statement it sends anyway, whether the copy is still what is stored (``gateway.storage.tables``). The SQL is
written out here so that this revision keeps building the same objects whatever the code becomes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS sso_connections_revision_ai AFTER INSERT ON sso_connections BEGIN "
    "UPDATE sso_connections SET revision = lower(hex(randomblob(16))) WHERE id = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS sso_connections_revision_au AFTER UPDATE ON sso_connections "
    "WHEN new.revision IS old.revision BEGIN "
    "UPDATE sso_connections SET revision = lower(hex(randomblob(16))) WHERE id = new.id; END",
]
POSTGRES = [
    "CREATE OR REPLACE FUNCTION sso_connections_revision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.revision := md5(random()::text || clock_timestamp()::text); RETURN NEW; END $$",
    "CREATE TRIGGER sso_connections_revision BEFORE INSERT OR UPDATE ON sso_connections "
    "FOR EACH ROW EXECUTE FUNCTION sso_connections_revision()",
]
BACKFILL = {
    "sqlite": "UPDATE sso_connections SET revision = lower(hex(randomblob(16)))",
    "postgresql": "UPDATE sso_connections SET revision = md5(random()::text || id)",
}


def upgrade() -> None:
    op.add_column("sso_connections", sa.Column("revision", sa.String(32), nullable=False, server_default=""))
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL[dialect])
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("ai", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS sso_connections_revision_{name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS sso_connections_revision ON sso_connections")
        op.execute("DROP FUNCTION IF EXISTS sso_connections_revision()")
    with op.batch_alter_table("sso_connections") as batch:
        batch.drop_column("revision")
