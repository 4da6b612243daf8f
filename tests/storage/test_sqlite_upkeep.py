"""SQLite's upkeep out of the write path: the member search indexed in batches after the writing transactions
(``gateway.storage.search_tables``), WAL checkpoints run after the writer left the queue
(``gateway.storage.checkpoints``), and the write queue itself (``gateway.storage.write_lock``)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.storage.db import CHECKPOINT_EVERY, UPKEEP_EVERY, Database
from gateway.storage.search_tables import SQLITE_PENDING, SQLITE_TABLE, index_pending_members
from gateway.storage.tables import members, metadata
from gateway.storage.write_lock import WriteQueue

from .conftest import insert_org

NOW = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'upkeep.db'}")
    metadata.create_all(database.engine)
    return database


def _member(conn: sa.Connection, org: str, email: str, display: str) -> str:
    mid = str(uuid.uuid4())
    conn.execute(
        sa.insert(members),
        {
            "id": mid, "org_id": org, "email": email, "role": "member", "status": "active",
            "joined_via": "scim", "display_name": display, "given_name": None, "family_name": None,
            "user_name": email, "scim_linked": True, "version": 1, "attributes": {},
            "created_at": NOW, "updated_at": NOW,
        },
    )  # fmt: skip
    return mid


def _found(db: Database, org: str, q: str) -> list[str]:
    with db.transaction(write=False) as tx:
        found, _ = tx.members(org, query=q, limit=50)
        return sorted(m.email for m in found)


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()


def _index(db: Database) -> int:
    with db.transaction() as tx:
        return index_pending_members(tx.session.connection())


def test_a_new_member_is_found_before_and_after_indexing(db: Database) -> None:
    org = insert_org(db)
    with db.engine.begin() as conn:
        _member(conn, org, "ada@acme.test", "Ada Lovelace")
        _member(conn, org, "grace@acme.test", "Grace Hopper")
    assert (_count(db, SQLITE_PENDING), _count(db, SQLITE_TABLE)) == (2, 0)
    assert _found(db, org, "lovel") == ["ada@acme.test"]
    assert _index(db) == 2
    assert (_count(db, SQLITE_PENDING), _count(db, SQLITE_TABLE)) == (0, 2)
    assert _found(db, org, "lovel") == ["ada@acme.test"]
    assert _found(db, org, "hopper") == ["grace@acme.test"]


def test_a_renamed_member_is_found_by_the_new_name_only(db: Database) -> None:
    org = insert_org(db)
    with db.engine.begin() as conn:
        mid = _member(conn, org, "ada@acme.test", "Ada Lovelace")
    _index(db)
    with db.engine.begin() as conn:
        conn.execute(sa.update(members).where(members.c.id == mid).values(display_name="Countess Byron"))
    # Not indexed yet: the FTS row still says Lovelace, the member's own columns decide.
    assert _found(db, org, "lovelace") == []
    assert _found(db, org, "byron") == ["ada@acme.test"]
    assert _index(db) == 1
    assert _count(db, SQLITE_TABLE) == 1  # the old row was replaced, not kept beside the new one
    assert _found(db, org, "lovelace") == []
    assert _found(db, org, "byron") == ["ada@acme.test"]


def test_indexing_goes_in_batches(db: Database) -> None:
    org = insert_org(db)
    with db.engine.begin() as conn:
        for i in range(7):
            _member(conn, org, f"p{i}@acme.test", f"Person {i}")
    with db.transaction() as tx:
        assert index_pending_members(tx.session.connection(), limit=3) == 3
    assert _count(db, SQLITE_PENDING) == 4
    assert _found(db, org, "person") == [f"p{i}@acme.test" for i in range(7)]
    assert _index(db) == 4
    assert _index(db) == 0


def test_a_deleted_member_leaves_nothing_to_index(db: Database) -> None:
    org = insert_org(db)
    with db.engine.begin() as conn:
        mid = _member(conn, org, "ada@acme.test", "Ada Lovelace")
        conn.execute(sa.delete(members).where(members.c.id == mid))
    assert _count(db, SQLITE_PENDING) == 0


def test_write_transactions_run_the_upkeep(db: Database) -> None:
    org = insert_org(db)
    with db.transaction() as tx:
        _member(tx.session.connection(), org, "first@acme.test", "First")
    assert _count(db, SQLITE_PENDING) == 1
    for i in range(UPKEEP_EVERY):
        with db.transaction() as tx:
            _member(tx.session.connection(), org, f"m{i}@acme.test", f"Member {i}")
    # Indexed by the upkeep one of those transactions ran after leaving the write queue.
    assert _count(db, SQLITE_PENDING) < UPKEEP_EVERY
    assert _count(db, SQLITE_TABLE) >= 2
    raw = db.engine.raw_connection()  # outside any transaction, as the upkeep runs it
    try:
        busy, log_frames, copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    assert busy == 0 and copied == log_frames


def test_a_checkpoint_comes_with_every_few_upkeeps(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    org = insert_org(db)
    checkpoints: list[object] = []
    monkeypatch.setattr("gateway.storage.db.passive_checkpoint", checkpoints.append)
    for i in range(UPKEEP_EVERY * CHECKPOINT_EVERY - 1):
        with db.transaction() as tx:
            _member(tx.session.connection(), org, f"m{i}@acme.test", f"Member {i}")
    assert checkpoints == []
    with db.transaction() as tx:
        _member(tx.session.connection(), org, "last@acme.test", "Last")
    assert len(checkpoints) == 1


def test_connections_leave_checkpoints_to_the_upkeep(db: Database) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0


def test_the_write_queue_admits_one_writer_at_a_time(tmp_path: Path) -> None:
    queues = [WriteQueue(str(tmp_path / "q.db")) for _ in range(2)]  # as two processes would each hold one
    inside, most, rounds = 0, 0, 200
    guard = threading.Lock()

    def writer(queue: WriteQueue) -> None:
        nonlocal inside, most
        for _ in range(rounds):
            place = queue.acquire()
            assert place is not None
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.0001)  # long enough for another writer to slip in, were the queue open
            with guard:
                inside -= 1
            WriteQueue.release(place)

    threads = [threading.Thread(target=writer, args=(q,)) for q in queues for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
