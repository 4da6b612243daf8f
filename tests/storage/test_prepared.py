"""Hot statements sent as driver SQL (``gateway.storage.prepared``, ``Store.send``, ``Store.fetch``,
``Store.read``): values of every type stored and read as SQLAlchemy's own execution stores and reads them, a column
left out given its default, a unique violation still an ``IntegrityError`` and a lost connection invalidated, each
statement compiled once, and the statement counted (and, on SQLite, the write lock taken) like any other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.storage import hot_statements as hot
from gateway.storage import prepared
from gateway.storage.db import Database
from gateway.storage.tables import audit_events, organizations
from tests.statement_counter import count_statements

from .conftest import insert_org

AT = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
AUDIT_KEYS = ("org_id", "at", "actor_type", "actor_id", "action", "target_id", "details")


def _audit(org_id: str, action: str) -> dict[str, object]:
    return {
        "org_id": org_id,
        "at": AT,
        "actor_type": "scim_token",
        "actor_id": None,
        "action": action,
        "target_id": "m-1",
        "details": {"role": "member", "restored": False, "n": [1, "two", None]},
    }


def _stored(db: Database, org_id: str, action: str) -> tuple[object, ...]:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.select(*(audit_events.c[k] for k in AUDIT_KEYS)).where(
                audit_events.c.org_id == org_id, audit_events.c.action == action
            )
        ).one()
    return tuple(row)


def test_values_of_every_type_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    org_id = insert_org(db)
    statement = hot.insert_rows(audit_events, AUDIT_KEYS)
    with db.engine.begin() as conn:
        conn.execute(statement, _audit(org_id, "by.sqlalchemy"))
    with db.transaction() as tx:
        tx.send(statement, _audit(org_id, "by.driver"))
    by_driver, by_sqlalchemy = _stored(db, org_id, "by.driver"), _stored(db, org_id, "by.sqlalchemy")
    assert by_driver[:4] == by_sqlalchemy[:4] and by_driver[5:] == by_sqlalchemy[5:]
    assert by_driver[1] == AT  # the timezone-aware time read back as it went in
    assert by_driver[6] == {"role": "member", "restored": False, "n": [1, "two", None]}


def test_several_rows_go_in_one_batch(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction() as tx, count_statements(db.engine) as counted:
        tx.send(hot.insert_rows(audit_events, AUDIT_KEYS), [_audit(org_id, f"a.{i}") for i in range(3)])
    assert len(counted.matching("INSERT INTO audit_events")) == 1
    for i in range(3):
        assert _stored(db, org_id, f"a.{i}")[4] == f"a.{i}"


def test_a_column_left_out_gets_its_default(db: Database) -> None:
    row = {
        "id": "org-1",
        "slug": "defaults",
        "name": "Defaults",
        "mode": "sso",
        "created_at": AT,
        "updated_at": AT,
    }
    with db.transaction() as tx:
        tx.send(hot.insert_rows(organizations, tuple(row)), row)
    with db.engine.connect() as conn:
        multi_project = conn.scalar(
            sa.select(organizations.c.multi_project).where(organizations.c.id == "org-1")
        )
    assert multi_project is False


def test_a_unique_violation_is_an_integrity_error(db: Database) -> None:
    insert_org(db, slug="taken")
    row = {
        "id": "org-2", "slug": "taken", "name": "Other", "mode": "sso", "multi_project": False,
        "created_at": AT, "updated_at": AT,
    }  # fmt: skip
    with pytest.raises(IntegrityError), db.transaction() as tx:
        tx.send(hot.insert_into(organizations), row)


def test_a_write_sent_in_a_savepoint_is_undone_with_it(db: Database) -> None:
    """The store keeps its connection for the transaction; a savepoint's statements still run inside it."""
    org_id = insert_org(db)
    statement = hot.insert_rows(audit_events, AUDIT_KEYS)
    with db.scope(write=True):
        with db.transaction() as tx:
            tx.send(statement, _audit(org_id, "kept"))
        with pytest.raises(LookupError), db.transaction(savepoint=True) as tx:
            tx.send(statement, _audit(org_id, "undone"))
            raise LookupError
        with db.transaction() as tx:
            tx.send(statement, _audit(org_id, "after"))
    with db.engine.connect() as conn:
        actions = conn.scalars(sa.select(audit_events.c.action).where(audit_events.c.org_id == org_id)).all()
    assert sorted(actions) == ["after", "kept"]


def test_a_statement_is_compiled_once_per_dialect(db: Database) -> None:
    statement = hot.insert_rows(audit_events, AUDIT_KEYS)
    first = prepared.prepared(statement, db.engine.dialect)
    assert first is not None and prepared.prepared(statement, db.engine.dialect) is first
    placeholder = "?" if db.dialect == "sqlite" else "%(action)s"
    assert placeholder in first.sql


def test_sent_statements_are_counted_and_need_no_compiling(db: Database) -> None:
    org_id = insert_org(db)
    statement = hot.insert_rows(audit_events, AUDIT_KEYS)
    with db.transaction() as tx:
        tx.send(statement, _audit(org_id, "warm"))
    with db.transaction() as tx, count_statements(db.engine) as counted:
        tx.send(statement, _audit(org_id, "counted"))
    assert counted.count == 1
    counted.all_cached()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database in a file: its writers take the write lock at their first write (``first_write``)."""
    db = Database(f"sqlite:///{tmp_path / 'hot.db'}")
    db.create_all()
    yield db
    db.dispose()


def test_sqlite_a_sent_write_takes_the_write_lock(sqlite_file: Database) -> None:
    org_id = insert_org(sqlite_file)
    with sqlite_file.transaction() as tx:
        assert tx._first_write is not None and not tx._first_write.taken
        tx.send(hot.insert_rows(audit_events, AUDIT_KEYS), _audit(org_id, "locked"))
        assert tx._first_write.taken


def test_inserts_go_to_the_driver_s_cursor_and_a_returning_one_gives_its_rows(db: Database) -> None:
    write = prepared.prepared(hot.insert_rows(audit_events, AUDIT_KEYS), db.engine.dialect)
    returning = prepared.prepared(hot.reserve_seqs(db.dialect), db.engine.dialect)
    assert write is not None and returning is not None
    assert write.direct and returning.direct
    org_id = insert_org(db)
    numbers = {"org_id": org_id, "count": 2, "endpoints_org_id": org_id}
    with db.transaction() as tx:
        tx.send(hot.insert_rows(audit_events, AUDIT_KEYS), _audit(org_id, "direct"))
        assert tx.fetch(hot.reserve_seqs(db.dialect), numbers) == [(2, False)]
        ((last, has_endpoints),) = tx.fetch(hot.reserve_seqs(db.dialect), numbers)
        assert (last, bool(has_endpoints)) == (4, False)
    assert _stored(db, org_id, "direct")[4] == "direct"


def test_a_driver_error_of_a_direct_write_is_sqlalchemy_s(db: Database) -> None:
    nowhere = sa.Table("nowhere", sa.MetaData(), sa.Column("x", sa.Integer))
    raised = sa.exc.OperationalError if db.dialect == "sqlite" else sa.exc.ProgrammingError
    with pytest.raises(raised), db.transaction() as tx:
        tx.send(hot.insert_into(nowhere), {"x": 1})


def test_a_direct_write_fires_the_cursor_events_before_and_after(db: Database) -> None:
    org_id = insert_org(db)
    seen: list[tuple[str, str]] = []

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(("before", statement))

    def after(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(("after", statement))

    sa.event.listen(db.engine, "before_cursor_execute", before)
    sa.event.listen(db.engine, "after_cursor_execute", after)
    try:
        with db.transaction() as tx:
            tx.send(hot.insert_rows(audit_events, AUDIT_KEYS), [_audit(org_id, "e.1"), _audit(org_id, "e.2")])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
        sa.event.remove(db.engine, "after_cursor_execute", after)
    inserts = [(when, sql) for when, sql in seen if sql.startswith("INSERT INTO audit_events")]
    assert [when for when, _ in inserts] == ["before", "after"]


def _audit_rows() -> sa.Select[tuple[object, ...]]:
    # a constant in the statement (``action != 'skipped'``) is a bound parameter with its value
    return sa.select(audit_events).where(
        audit_events.c.org_id == sa.bindparam("org_id"), audit_events.c.action != "skipped"
    )


def test_a_hot_read_gives_the_values_sqlalchemy_s_result_gives(db: Database) -> None:
    org_id = insert_org(db)
    statement = _audit_rows()
    with db.transaction() as tx:
        tx.send(hot.insert_rows(audit_events, AUDIT_KEYS), [_audit(org_id, "one"), _audit(org_id, "skipped")])
    with db.engine.connect() as conn:
        expected = [tuple(row) for row in conn.execute(statement, {"org_id": org_id})]
    with db.transaction(write=False) as tx:
        rows = tx.read(statement, {"org_id": org_id})
    assert rows == expected and len(rows) == 1
    row = dict(zip(audit_events.c.keys(), rows[0], strict=True))
    assert row["at"] == AT and row["at"].tzinfo is not None
    assert row["details"] == {"role": "member", "restored": False, "n": [1, "two", None]}
    assert prepared.prepared_read(statement, db.engine.dialect) is not None


def test_a_hot_read_is_counted_and_needs_no_compiling(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction(write=False) as tx:
        tx.read(hot.org_row(), {"org_id": org_id})
    with db.transaction(write=False) as tx, count_statements(db.engine) as counted:
        assert tx.read(hot.org_row(), {"org_id": org_id})[0][0] == org_id
        assert tx.read(hot.org_row(), {"org_id": "none"}) == []
    assert counted.count == 2
    counted.all_cached()


def test_a_read_with_an_in_list_runs_through_sqlalchemy(db: Database) -> None:
    org_id = insert_org(db)
    statement = sa.select(organizations.c.slug).where(
        organizations.c.id.in_(sa.bindparam("ids", expanding=True))
    )
    assert prepared.prepared_read(statement, db.engine.dialect) is None
    with db.transaction(write=False) as tx:
        assert tx.read(statement, {"ids": [org_id, "other"]}) == [("acme",)]


def test_sqlite_a_locking_hot_read_takes_the_write_lock(sqlite_file: Database) -> None:
    org_id = insert_org(sqlite_file)
    with sqlite_file.transaction() as tx:
        tx.read(hot.org_row(), {"org_id": org_id})
        assert tx._first_write is not None and not tx._first_write.taken
        tx.read(hot.org_row().with_for_update(), {"org_id": org_id})  # FOR UPDATE: SQLite's write lock
        assert tx._first_write.taken


def test_postgresql_a_direct_read_on_a_lost_connection_invalidates_it(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("connection termination is a PostgreSQL server action")
    org_id = insert_org(db)
    with pytest.raises(sa.exc.OperationalError) as raised, db.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with db.engine.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        prepared.read(conn, hot.org_row(), {"org_id": org_id})
    assert raised.value.connection_invalidated
    with db.engine.connect() as conn:  # the pool hands out a live connection again
        assert prepared.read(conn, hot.org_row(), {"org_id": org_id})[0][0] == org_id
