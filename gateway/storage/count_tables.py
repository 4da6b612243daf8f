"""Exact sizes of an organization's long lists, kept by the database itself, so a total costs the same at any size.

A list page's ``total`` (the admin API's ``page=``, SCIM's ``totalResults``) must be exact, and counting the
rows behind it reads every index entry of the organization: at 100,000 members that was most of the cost of a
first page (issue 10). ``list_counts`` holds the sizes instead, kept in step by triggers on the counted tables,
in the transaction that changes them, so a total read in a transaction sees that transaction's own changes and
never drifts from the rows (a change that bypassed the services, or a future one, is counted the same way):

- ``members.<status>``: the organization's members in that status (``active``, ``suspended``, ``removed``);
  an insert, a delete, or an update of the status or the organization moves the counts.
- ``audit``: the organization's audit events.

A total is the sum of the list's rows. On PostgreSQL each backend adds to its own shard (its process id modulo
64), so concurrent changes of one organization do not queue behind one counter row until they commit (a
shard may go below zero; the sum is exact). With 16 shards, backends sharing a shard were seen waiting on
each other during a sync (15 of 1,000 samples of ``pg_stat_activity``). Audit rows are counted once per
statement (a transition table), whatever the number of rows the statement inserts. SQLite has one writer at a
time and a single shard.

Only totals of a whole list (by status) come from here; a filtered list still counts its rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.domain import model as m
from gateway.storage.tables import metadata

SHARDS = 64
AUDIT = "audit"

list_counts = sa.Table(
    "list_counts",
    metadata,
    # No foreign key: the triggers of rows deleted with their organization still write here.
    sa.Column("org_id", sa.String(36), primary_key=True),
    sa.Column("list", sa.String(40), primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)


def members_list(status: m.MemberStatus) -> str:
    return f"members.{status.value}"


LIVE_MEMBERS = (members_list(m.MemberStatus.ACTIVE), members_list(m.MemberStatus.SUSPENDED))

_SQLITE_ADD = (
    "INSERT INTO list_counts (org_id, list, shard, n) VALUES ({org}, {name}, 0, {n}) "
    "ON CONFLICT (org_id, list, shard) DO UPDATE SET n = n + excluded.n;"
)
SQLITE_DDL = [
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_ai AFTER INSERT ON members BEGIN "
    + _SQLITE_ADD.format(org="new.org_id", name="'members.' || new.status", n=1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_ad AFTER DELETE ON members BEGIN "
    + _SQLITE_ADD.format(org="old.org_id", name="'members.' || old.status", n=-1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_members_au AFTER UPDATE OF status, org_id ON members "
    "WHEN old.status IS NOT new.status OR old.org_id IS NOT new.org_id BEGIN "
    + _SQLITE_ADD.format(org="old.org_id", name="'members.' || old.status", n=-1)
    + " "
    + _SQLITE_ADD.format(org="new.org_id", name="'members.' || new.status", n=1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_audit_ai AFTER INSERT ON audit_events BEGIN "
    + _SQLITE_ADD.format(org="new.org_id", name="'audit'", n=1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS list_counts_audit_ad AFTER DELETE ON audit_events BEGIN "
    + _SQLITE_ADD.format(org="old.org_id", name="'audit'", n=-1)
    + " END",
]

_PG_ADD = (
    "INSERT INTO list_counts (org_id, list, shard, n) {rows} "
    "ON CONFLICT (org_id, list, shard) DO UPDATE SET n = list_counts.n + excluded.n;"
)
_PG_SHARD = f"mod(pg_backend_pid(), {SHARDS})::smallint"
POSTGRES_DDL = [
    "CREATE OR REPLACE FUNCTION list_counts_members() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN "
    + _PG_ADD.format(rows=f"VALUES (OLD.org_id, 'members.' || OLD.status, {_PG_SHARD}, -1)")
    + " END IF; IF TG_OP <> 'DELETE' THEN "
    + _PG_ADD.format(rows=f"VALUES (NEW.org_id, 'members.' || NEW.status, {_PG_SHARD}, 1)")
    + " END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION list_counts_audit_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    + _PG_ADD.format(rows=f"SELECT org_id, 'audit', {_PG_SHARD}, count(*) FROM added GROUP BY org_id")
    + " RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION list_counts_audit_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    + _PG_ADD.format(rows=f"SELECT org_id, 'audit', {_PG_SHARD}, -count(*) FROM deleted GROUP BY org_id")
    + " RETURN NULL; END $$",
    "CREATE TRIGGER list_counts_members_insert_delete AFTER INSERT OR DELETE ON members "
    "FOR EACH ROW EXECUTE FUNCTION list_counts_members()",
    "CREATE TRIGGER list_counts_members_update AFTER UPDATE OF status, org_id ON members FOR EACH ROW "
    "WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.org_id IS DISTINCT FROM NEW.org_id) "
    "EXECUTE FUNCTION list_counts_members()",
    "CREATE TRIGGER list_counts_audit_insert AFTER INSERT ON audit_events REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION list_counts_audit_added()",
    "CREATE TRIGGER list_counts_audit_delete AFTER DELETE ON audit_events REFERENCING OLD TABLE AS deleted "
    "FOR EACH STATEMENT EXECUTE FUNCTION list_counts_audit_deleted()",
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
# The triggers go with the last of the three tables ``create_all`` creates (list_counts sorts after members
# and audit_events, which it does not reference): the ``after_create`` of the whole schema.
for _statement in SQLITE_DDL:
    sa.event.listen(metadata, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_DDL:
    sa.event.listen(metadata, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql"))
for _statement in POSTGRES_DROP:
    sa.event.listen(metadata, "before_drop", sa.DDL(_statement).execute_if(dialect="postgresql"))


@functools.cache
def _total(names: tuple[str, ...]) -> sa.Select[tuple[int]]:
    """The prebuilt sum of ``names``' counts (built once per set of lists, like ``hot_statements``)."""
    return sa.select(sa.func.coalesce(sa.func.sum(list_counts.c.n), 0)).where(
        list_counts.c.org_id == sa.bindparam("org_id"), list_counts.c.list.in_(names)
    )


def total(session: Session, org_id: str, names: Sequence[str]) -> int:
    """How many rows the organization's lists ``names`` hold together, as this transaction sees them."""
    return int(session.scalar(_total(tuple(sorted(names))), {"org_id": org_id}) or 0)


def members_total(session: Session, org_id: str, status: m.MemberStatus | None) -> int:
    """Members in ``status``, or the live ones (active and suspended) without it."""
    return total(session, org_id, LIVE_MEMBERS if status is None else (members_list(status),))
