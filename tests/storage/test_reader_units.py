"""A reader's unit of work (``Database.transaction(write=False)``, a reading ``scope``) runs on a connection of
its own: its hot reads need no ORM session, one is made on that connection only when a query of the ORM asks for
it, it holds no snapshot between statements, and the connection goes back to the pool however the unit ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import NotFound
from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
from gateway.storage.errors import commits
from gateway.storage.tables import audit_events, organizations

from .conftest import insert_org

AT = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)


def _audit(org_id: str) -> dict[str, object]:
    return {"org_id": org_id, "at": AT, "actor_type": "cli", "action": "read.noted", "details": {}}


def _name(tx: object, org_id: str) -> str:
    (row,) = tx.read(hot.org_row(), {"org_id": org_id})  # type: ignore[attr-defined]
    return str(row[list(organizations.c.keys()).index("name")])


def _rename(db: Database, org_id: str, name: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.update(organizations).where(organizations.c.id == org_id).values(name=name))


def test_hot_reads_make_no_session(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction(write=False) as tx:
        assert _name(tx, org_id) == "Acme"
        assert tx.reading and not tx.has_session
    assert db.engine.pool.checkedout() == 0


def test_a_query_of_the_orm_gets_a_session_on_the_readers_connection(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction(write=False) as tx:
        assert _name(tx, org_id) == "Acme"
        org = tx.session.get(m.Organization, org_id)
        assert org is not None and org.name == "Acme"
        assert tx.has_session
        # One connection for both: the pool lent out only the reader's.
        assert db.engine.pool.checkedout() == 1
    assert db.engine.pool.checkedout() == 0
    assert org.slug == "acme"  # what it loaded stays readable after the unit ended


def test_a_reader_sees_each_commit_as_it_lands(db: Database) -> None:
    """No snapshot is held between a reader's statements (autocommit on PostgreSQL, no BEGIN on SQLite), so a
    write committed meanwhile is neither blocked by the reader nor hidden from its next statement."""
    org_id = insert_org(db)
    with db.transaction(write=False) as tx:
        assert _name(tx, org_id) == "Acme"
        _rename(db, org_id, "Acme Renamed")
        assert _name(tx, org_id) == "Acme Renamed"
        assert tx.session.scalars(sa.select(m.Organization.name)).one() == "Acme Renamed"
        if tx.dialect == "postgresql":
            # Each statement is a transaction of its own: none was open before this one.
            same = sa.text("SELECT transaction_timestamp() = statement_timestamp()")
            assert tx.session.execute(same).scalar_one() is True


def test_the_connection_goes_back_when_a_reader_raises(db: Database) -> None:
    org_id = insert_org(db)
    with pytest.raises(NotFound), db.transaction(write=False) as tx:
        assert _name(tx, org_id) == "Acme"
        tx.session.get(m.Organization, org_id)
        raise NotFound("nothing here")
    assert db.engine.pool.checkedout() == 0


def test_a_reading_scope_starts_afresh_after_a_use_case_raised(db: Database) -> None:
    org_id = insert_org(db)
    with db.scope(write=False):
        with pytest.raises(NotFound), db.transaction(write=False) as tx:
            assert _name(tx, org_id) == "Acme"
            raise NotFound("nothing here")
        assert db.engine.pool.checkedout() == 0
        with db.transaction(write=False) as tx:
            assert _name(tx, org_id) == "Acme"
            with db.transaction(write=False) as inner:
                assert inner is tx  # the scope's one unit of work
    assert db.engine.pool.checkedout() == 0


def test_a_writer_still_runs_on_a_session(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction() as tx:
        assert not tx.reading and tx.has_session
        org = tx.session.get(m.Organization, org_id)
        assert org is not None
        org.name = "Written"
    with db.transaction(write=False) as tx:
        assert _name(tx, org_id) == "Written"


def test_a_reader_that_wrote_counts_as_committed(db: Database) -> None:
    """Rows a reader leaves for the commit are written (in autocommit) and the unit counts as committed, so a
    retry of the request (``call_with_retries``) does not write them twice."""
    org_id = insert_org(db)
    before = commits()
    with db.transaction(write=False) as tx:
        tx.insert_at_commit(audit_events, [_audit(org_id)])
    assert commits() == before + 1
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(audit_events)) == 1
    assert db.engine.pool.checkedout() == 0
