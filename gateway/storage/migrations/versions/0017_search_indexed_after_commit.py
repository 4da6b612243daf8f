"""SQLite's member search indexed after the writing transaction

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-06 21:00:00

The search triggers on ``members`` now only note the member in ``members_search_pending``; the gateway moves
noted members into the FTS5 table in batches (``gateway.storage.search_tables``). PostgreSQL is unchanged. The
SQL is written out here so that this revision keeps building the same objects whatever the code becomes.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_DELETE = (
    "DELETE FROM members_search WHERE members_search MATCH 'member_id : ' || '\"' || old.id || '\"' "
    "AND member_id = old.id;"
)
_NOTE = "INSERT INTO members_search_pending (member_id, fresh) VALUES (new.id, {fresh}) ON CONFLICT (member_id) DO NOTHING;"
_ROW = "lower({p}.email), lower({p}.display_name), lower({p}.given_name || ' ' || {p}.family_name)"
_INSERT = f"INSERT INTO members_search (member_id, email, display_name, full_name) VALUES (new.id, {_ROW.format(p='new')});"
_TRIGGERS = ["members_search_ai", "members_search_ad", "members_search_au"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(
        "CREATE TABLE members_search_pending (member_id VARCHAR(36) NOT NULL PRIMARY KEY, "
        "fresh BOOLEAN NOT NULL) WITHOUT ROWID"
    )
    op.execute(f"CREATE TRIGGER members_search_ai AFTER INSERT ON members BEGIN {_NOTE.format(fresh=1)} END")
    op.execute(
        f"CREATE TRIGGER members_search_ad AFTER DELETE ON members BEGIN {_DELETE} "
        "DELETE FROM members_search_pending WHERE member_id = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER members_search_au AFTER UPDATE OF email, display_name, given_name, family_name "
        f"ON members BEGIN {_NOTE.format(fresh=0)} END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Index what is still noted, as revision 0008's triggers would have.
    op.execute(
        "DELETE FROM members_search WHERE rowid IN (SELECT s.rowid FROM members_search_pending AS p "
        "JOIN members_search AS s ON s.members_search MATCH 'member_id : ' || '\"' || p.member_id || '\"' "
        "AND s.member_id = p.member_id WHERE NOT p.fresh)"
    )
    op.execute(
        "INSERT INTO members_search (member_id, email, display_name, full_name) "
        f"SELECT m.id, {_ROW.format(p='m')} FROM members_search_pending AS p JOIN members AS m ON m.id = p.member_id"
    )
    op.execute("DROP TABLE members_search_pending")
    op.execute(f"CREATE TRIGGER members_search_ai AFTER INSERT ON members BEGIN {_INSERT} END")
    op.execute(f"CREATE TRIGGER members_search_ad AFTER DELETE ON members BEGIN {_DELETE} END")
    op.execute(
        "CREATE TRIGGER members_search_au AFTER UPDATE OF email, display_name, given_name, family_name "
        f"ON members BEGIN {_DELETE} {_INSERT} END"
    )
