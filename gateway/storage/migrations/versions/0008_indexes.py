"""Indexes for a flat cost as an organization grows, the member search index, fresh planner statistics

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-04 03:45:00

Every hot query gets an index that fits it (see tests/storage/test_query_plans.py): SCIM list order
(org_id, created_at, id), the last-Admin count (org_id, role, status), the per-member email rows
(member_id, org_id), the audit and invitation lists in their keyset order, ``userName sw`` on PostgreSQL
(lower(user_name) with ``text_pattern_ops``), and the member search (``pg_trgm`` GIN indexes on PostgreSQL, an FTS5
trigram table kept by triggers on SQLite; see ``gateway.storage.search_tables``). It ends with ``ANALYZE`` so
that the planners, SQLite's above all (which otherwise never has statistics), choose these indexes.

On PostgreSQL only the tables that hold rows are analyzed. Statistics taken of an empty table tell the planner
that the table is empty for good: plans cached while it is still small (a connection's prepared statements,
the foreign-key checks of every insert) read it sequentially and keep doing so as it grows, until the next
``ANALYZE``. A table never analyzed is instead costed as at least ten pages, where an index wins (a first
SCIM sync with autovacuum off slowed down linearly with the organization before this; see
tests/storage/test_query_plans.py, ``test_plans_cached_while_tables_are_small_follow_the_growth``).
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None

_TRIGRAM = {
    "ix_members_search_email": "email",
    "ix_members_search_display_name": "lower(display_name)",
    "ix_members_search_full_name": "lower((given_name || ' ') || family_name)",
}

# The SQLite search index as this revision built it, written out so that the revision keeps building it whatever
# the code becomes (revision 0017 moves the indexing out of the writing transaction).
_ROW = "lower({p}.email), lower({p}.display_name), lower({p}.given_name || ' ' || {p}.family_name)"
_DELETE = (
    "DELETE FROM members_search WHERE members_search MATCH 'member_id : ' || '\"' || old.id || '\"' "
    "AND member_id = old.id;"
)
_INSERT = (
    "INSERT INTO members_search (member_id, email, display_name, full_name) "
    f"VALUES (new.id, {_ROW.format(p='new')});"
)
_SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS members_search USING fts5("
    "member_id, email, display_name, full_name, tokenize = 'trigram')",
    f"CREATE TRIGGER IF NOT EXISTS members_search_ai AFTER INSERT ON members BEGIN {_INSERT} END",
    f"CREATE TRIGGER IF NOT EXISTS members_search_ad AFTER DELETE ON members BEGIN {_DELETE} END",
    "CREATE TRIGGER IF NOT EXISTS members_search_au AFTER UPDATE OF email, display_name, given_name, "
    f"family_name ON members BEGIN {_DELETE} {_INSERT} END",
]
_SQLITE_BACKFILL = (
    "INSERT INTO members_search (member_id, email, display_name, full_name) "
    f"SELECT m.id, {_ROW.format(p='m')} FROM members AS m"
)
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS members_search_au",
    "DROP TRIGGER IF EXISTS members_search_ad",
    "DROP TRIGGER IF EXISTS members_search_ai",
    "DROP TABLE IF EXISTS members_search",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_members_org_role_status", "members", ["org_id", "role", "status"])
    op.create_index("ix_members_org_created", "members", ["org_id", "created_at", "id", "status"])
    op.create_index("ix_scim_groups_org_created", "scim_groups", ["org_id", "created_at", "id"])
    op.create_index("ix_invitations_org_created", "invitations", ["org_id", "created_at", "id"])
    op.create_index("ix_scim_user_emails_member_org", "scim_user_emails", ["member_id", "org_id"])
    op.drop_index("ix_scim_user_emails_member", table_name="scim_user_emails")
    op.drop_index("ix_audit_events_org_at", table_name="audit_events")
    op.create_index("ix_audit_events_org_at", "audit_events", ["org_id", "at", "id"])
    if postgres:
        op.execute(
            "CREATE INDEX ix_members_org_user_name_prefix ON members (org_id, lower(user_name) text_pattern_ops)"
        )
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, expr in _TRIGRAM.items():
            op.execute(f"CREATE INDEX {name} ON members USING gin (({expr}) gin_trgm_ops)")
        _analyze_tables_with_rows()
    else:
        for statement in _SQLITE_DDL:
            op.execute(statement)
        op.execute(_SQLITE_BACKFILL)
        op.execute("ANALYZE")


def _analyze_tables_with_rows() -> None:
    """PostgreSQL: ``ANALYZE`` each table of the schema that holds rows, and leave the empty ones unanalyzed
    (see the module docstring)."""
    bind = op.get_bind()
    names = bind.exec_driver_sql(
        "SELECT c.relname FROM pg_class AS c WHERE c.relkind = 'r' "
        "AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname"
    ).scalars()
    for name in list(names):
        quoted = bind.dialect.identifier_preparer.quote(name)
        if bind.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {quoted})").scalar():
            op.execute(f"ANALYZE {quoted}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for name in _TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP INDEX IF EXISTS ix_members_org_user_name_prefix")
    else:
        for statement in _SQLITE_DROP:
            op.execute(statement)
    op.drop_index("ix_audit_events_org_at", table_name="audit_events")
    op.create_index("ix_audit_events_org_at", "audit_events", ["org_id", "at"])
    op.create_index("ix_scim_user_emails_member", "scim_user_emails", ["member_id"])
    op.drop_index("ix_scim_user_emails_member_org", table_name="scim_user_emails")
    op.drop_index("ix_invitations_org_created", table_name="invitations")
    op.drop_index("ix_scim_groups_org_created", table_name="scim_groups")
    op.drop_index("ix_members_org_created", table_name="members")
    op.drop_index("ix_members_org_role_status", table_name="members")
