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

The FTS row carries the member id as an indexed column and the triggers find it by a phrase match on it,
never by rowid (VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.storage.tables import members, metadata

MIN_TRIGRAM_QUERY = 3

SQLITE_TABLE = "members_search"
# The virtual table and the shadow tables FTS5 keeps for it: schema comparisons must leave them alone.
SQLITE_TABLES = frozenset(
    {SQLITE_TABLE, *(f"{SQLITE_TABLE}_{s}" for s in ("data", "idx", "content", "docsize", "config"))}
)

FULL_NAME = sa.func.lower(members.c.given_name + sa.literal_column("' '") + members.c.family_name)
# The same expression as PostgreSQL prints it back, so that schema comparisons see the index unchanged.
_FULL_NAME_INDEXED = sa.func.lower(
    sa.literal_column("(given_name || ' ')", sa.String) + members.c.family_name
)
DISPLAY_NAME = sa.func.lower(members.c.display_name)
EMAIL = members.c.email

_ROW = "lower({p}.email), lower({p}.display_name), lower({p}.given_name || ' ' || {p}.family_name)"
_DELETE = (
    f"DELETE FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH 'member_id : ' || '\"' || old.id || '\"' "
    "AND member_id = old.id;"
)
_INSERT = (
    f"INSERT INTO {SQLITE_TABLE} (member_id, email, display_name, full_name) "
    f"VALUES (new.id, {_ROW.format(p='new')});"
)
SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_TABLE} USING fts5("
    "member_id, email, display_name, full_name, tokenize = 'trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_ai AFTER INSERT ON members BEGIN {_INSERT} END",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_ad AFTER DELETE ON members BEGIN {_DELETE} END",
    f"CREATE TRIGGER IF NOT EXISTS {SQLITE_TABLE}_au AFTER UPDATE OF email, display_name, given_name, "
    f"family_name ON members BEGIN {_DELETE} {_INSERT} END",
]
SQLITE_BACKFILL = (
    f"INSERT INTO {SQLITE_TABLE} (member_id, email, display_name, full_name) "
    f"SELECT m.id, {_ROW.format(p='m')} FROM members AS m"
)
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_au",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ad",
    f"DROP TRIGGER IF EXISTS {SQLITE_TABLE}_ai",
    f"DROP TABLE IF EXISTS {SQLITE_TABLE}",
]
POSTGRES_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"

_fts = sa.table(SQLITE_TABLE, sa.column("member_id"))


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
    return sa.and_(members.c.id.in_(candidates), matches)
