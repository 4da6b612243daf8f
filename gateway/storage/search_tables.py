"""The admin member search (``?q=``) served from an index on both stores, with today's substring semantics.

A member matches when ``q`` (lower-cased) occurs in the email, the lower-cased display name or the lower-cased
"given family" name. Those three ``LIKE '%q%'`` tests stay the definition; the index only narrows the rows
they are checked on, so the results are exactly those of a scan:

- PostgreSQL: a ``pg_trgm`` GIN index on each of the three expressions serves ``LIKE '%q%'`` directly
  (a BitmapOr of three index scans). The extension is created by migration 0008 and before ``create_all``.
- SQLite: an FTS5 table with the ``trigram`` tokenizer (``members_search``), kept in step with ``members``
  by triggers, holds the same three lower-cased strings. A query of three characters or more first asks it
  for the candidate members (a trigram phrase is a substring match; its case folding is broader than
  ``lower()``, so the candidates are a superset) and the ``LIKE`` tests then run on those candidates only.
  A trigram index cannot answer a query of one or two characters; those fall back to the scan they always
  were (they match a large share of any organization anyway).

The FTS row carries the member id as an indexed column and is found by a phrase match on it, never by rowid
(VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY).

SQLite indexes outside the writing transaction. FTS5 writes a new index segment at the end of every
transaction that changed it: 0.3-0.5 ms of each SCIM create, spent holding SQLite's only write lock (measured:
a member INSERT with the trigger 0.73 ms, without it 0.20 ms). So the triggers only note the member in
``members_search_pending`` (a one-row insert), and ``index_pending_members`` moves the noted members into the
FTS table in batches (``Database`` runs it every few dozen write transactions, once the writer has left the
write queue). The search stays exact meanwhile: a member still noted is a candidate whatever the FTS table holds
about them, and the ``LIKE`` tests decide.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.storage.tables import members, metadata

MIN_TRIGRAM_QUERY = 3

SQLITE_TABLE = "members_search"
SQLITE_PENDING = "members_search_pending"
# The virtual table, the shadow tables FTS5 keeps for it and the queue of members to index: schema comparisons
# must leave them alone.
SQLITE_TABLES = frozenset(
    {
        SQLITE_TABLE,
        SQLITE_PENDING,
        *(f"{SQLITE_TABLE}_{s}" for s in ("data", "idx", "content", "docsize", "config")),
    }
)
INDEX_BATCH = 500

FULL_NAME = sa.func.lower(members.c.given_name + sa.literal_column("' '") + members.c.family_name)
# The same expression as PostgreSQL prints it back, so that schema comparisons see the index unchanged.
_FULL_NAME_INDEXED = sa.func.lower(
    sa.literal_column("(given_name || ' ')", sa.String) + members.c.family_name
)
DISPLAY_NAME = sa.func.lower(members.c.display_name)
EMAIL = members.c.email

# ``fresh``: noted by the INSERT trigger, so the FTS table holds no row of the member to delete first.
_NOTE = (
    f"INSERT INTO {SQLITE_PENDING} (member_id, fresh) VALUES (new.id, {{fresh}}) "
    "ON CONFLICT (member_id) DO NOTHING;"
)
_DELETE = (
    f"DELETE FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH 'member_id : ' || '\"' || old.id || '\"' "
    "AND member_id = old.id;"
)
SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_TABLE} USING fts5("
    "member_id, email, display_name, full_name, tokenize = 'trigram')",
    f"CREATE TABLE IF NOT EXISTS {SQLITE_PENDING} (member_id VARCHAR(36) NOT NULL PRIMARY KEY, "
    "fresh BOOLEAN NOT NULL) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_ai AFTER INSERT ON members BEGIN {_NOTE.format(fresh=1)} END",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_ad AFTER DELETE ON members BEGIN {_DELETE} "
    f"DELETE FROM {SQLITE_PENDING} WHERE member_id = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_au AFTER UPDATE OF email, display_name, given_name, "
    f"family_name ON members BEGIN {_NOTE.format(fresh=0)} END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_au",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ad",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ai",
    f"DROP TABLE IF EXISTS {SQLITE_PENDING}",
    f"DROP TABLE IF EXISTS {SQLITE_TABLE}",
]
_ROW = "lower(m.email), lower(m.display_name), lower(m.given_name || ' ' || m.family_name)"
_NOTED = f"SELECT member_id FROM {SQLITE_PENDING} ORDER BY member_id LIMIT :limit"
_INDEX = [
    # Rows of members noted after an update: found by the same phrase match the triggers used to delete with.
    f"DELETE FROM {SQLITE_TABLE} WHERE rowid IN (SELECT s.rowid FROM {SQLITE_PENDING} AS p "
    f"JOIN {SQLITE_TABLE} AS s ON s.{SQLITE_TABLE} MATCH 'member_id : ' || '\"' || p.member_id || '\"' "
    "AND s.member_id = p.member_id WHERE NOT p.fresh AND p.member_id <= :last)",
    f"INSERT INTO {SQLITE_TABLE} (member_id, email, display_name, full_name) SELECT m.id, {_ROW} "
    f"FROM {SQLITE_PENDING} AS p JOIN members AS m ON m.id = p.member_id WHERE p.member_id <= :last",
    f"DELETE FROM {SQLITE_PENDING} WHERE member_id <= :last",
]

POSTGRES_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"

_fts = sa.table(SQLITE_TABLE, sa.column("member_id"))
_pending = sa.table(SQLITE_PENDING, sa.column("member_id"))


def _trigram_index(name: str, expr: Any) -> sa.Index:
    labelled = expr.label(f"{name}_expr")
    # _table: the full-name expression starts with a literal, from which the index cannot find its table.
    return sa.Index(
        name,
        labelled,
        _table=members,
        postgresql_using="gin",
        postgresql_ops={f"{name}_expr": "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")


TRIGRAM_INDEXES = [
    _trigram_index("ix_members_search_email", EMAIL),
    _trigram_index("ix_members_search_display_name", DISPLAY_NAME),
    _trigram_index("ix_members_search_full_name", _FULL_NAME_INDEXED),
]

sa.event.listen(metadata, "before_create", sa.DDL(POSTGRES_EXTENSION).execute_if(dialect="postgresql"))
for _statement in SQLITE_DDL:
    sa.event.listen(members, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
sa.event.listen(
    members, "before_drop", sa.DDL(f"DROP TABLE IF EXISTS {SQLITE_TABLE}").execute_if(dialect="sqlite")
)


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition(query: str, dialect: str) -> sa.ColumnElement[bool]:
    """The WHERE clause of ``?q=query`` for members (``members`` table columns)."""
    like = f"%{escape_like(query.lower())}%"
    matches = sa.or_(
        EMAIL.like(like, escape="\\"),
        DISPLAY_NAME.like(like, escape="\\"),
        FULL_NAME.like(like, escape="\\"),
    )
    if dialect != "sqlite" or len(query) < MIN_TRIGRAM_QUERY:
        return matches
    phrase = '"' + query.lower().replace('"', '""') + '"'
    candidates = sa.select(_fts.c.member_id).where(
        sa.text(f"{SQLITE_TABLE} MATCH :search_phrase").bindparams(
            search_phrase=f"{{email display_name full_name}} : {phrase}"
        )
    )
    noted = sa.select(_pending.c.member_id)
    return sa.and_(sa.or_(members.c.id.in_(candidates), members.c.id.in_(noted)), matches)


def index_pending_members(connection: sa.Connection, limit: int = INDEX_BATCH) -> int:
    """Move up to ``limit`` noted members into the SQLite FTS table (in the caller's write transaction); the
    number moved."""
    noted = connection.exec_driver_sql(_NOTED, {"limit": limit}).scalars().all()
    if noted:
        for statement in _INDEX:
            connection.exec_driver_sql(statement, {"last": noted[-1]})
    return len(noted)
