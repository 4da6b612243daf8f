"""SQLite's write lock taken at a writer's first write (``gateway.storage.first_write``): reads before it leave
the database free for other writers; a write, a locking read or an explicit lock takes it; an organization read
under a shared lock before it is checked once the lock is held, and a change in between makes the request run
again. Whether another writer can get in is asked of SQLite itself (``BEGIN IMMEDIATE`` with no busy wait)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import Conflict
from gateway.services.base import ServiceBase
from gateway.storage.db import Database
from gateway.storage.errors import DatabaseUnavailable, Kind
from gateway.storage.first_write import needs_write_lock
from gateway.storage.store import Store, fresh
from gateway.storage.tables import audit_events, members, organizations
from tests.statement_counter import count_statements

from .conftest import insert_org

NOW = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "first-write.db"


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{path}")
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def org_id(db: Database) -> str:
    return insert_org(db)


def _another_writer_gets_in(path: Path) -> bool:
    """Whether a writer of another connection can take the write lock right now (and leaves it at once)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        conn.close()


def _rename_elsewhere(path: Path, org_id: str, name: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE organizations SET name = ? WHERE id = ?", (name, org_id))
    conn.close()


def _switched_meanwhile(
    db: Database, path: Path, org_id: str, then: Callable[[Store], object]
) -> DatabaseUnavailable:
    """A rerunnable writer reads its organization before the write lock, the organization changes elsewhere,
    then ``then`` takes the lock: the refusal it must end in."""
    with (
        pytest.raises(DatabaseUnavailable) as raised,
        db.scope(write=True, rerun=True),
        db.transaction() as tx,
    ):
        ServiceBase.locked_org(tx, org_id)
        _rename_elsewhere(path, org_id, "Switched meanwhile")
        then(tx)
    return raised.value


def _audit(tx: Store, org_id: str, action: str) -> None:
    tx.session.execute(
        sa.insert(audit_events),
        {"org_id": org_id, "at": NOW, "actor_type": "cli", "action": action, "details": {}},
    )


def _stored(db: Database, column: sa.Column[str], org_id: str) -> list[str]:
    """``column``'s committed values in the organization's rows of its table (seen from another connection)."""
    with db.engine.connect() as conn:
        return list(conn.scalars(sa.select(column).where(column.table.c.org_id == org_id)))


def _actions(db: Database, org_id: str) -> list[str]:
    return _stored(db, audit_events.c.action, org_id)


def test_a_writer_reads_without_the_write_lock_and_takes_it_at_its_first_write(
    db: Database, path: Path, org_id: str
) -> None:
    with db.transaction() as tx:
        assert tx.org(org_id) is not None
        assert _another_writer_gets_in(path)
        _audit(tx, org_id, "first.write")
        assert not _another_writer_gets_in(path)
    assert _another_writer_gets_in(path)
    assert _actions(db, org_id) == ["first.write"]


def test_a_locking_read_takes_the_write_lock_before_it_reads(db: Database, path: Path, org_id: str) -> None:
    with db.transaction() as tx:
        org = tx.org(org_id)
        assert _another_writer_gets_in(path)
        _rename_elsewhere(path, org_id, "Renamed")
        tx.refresh(org, lock=True)
        assert not _another_writer_gets_in(path)
        assert org.name == "Renamed"


@pytest.mark.parametrize("lock", ["email", "admin changes", "exclusive org"])
def test_the_store_s_explicit_locks_take_the_write_lock(
    db: Database, path: Path, org_id: str, lock: str
) -> None:
    with db.transaction() as tx:
        if lock == "email":
            tx.lock_email(org_id, "ada@acme.test")
        elif lock == "admin changes":
            tx.lock_admin_changes(org_id)
        else:
            ServiceBase.locked_org(tx, org_id, exclusive=True)
        assert not _another_writer_gets_in(path)


def test_an_exclusive_lock_reads_the_organization_again_over_an_earlier_copy(
    db: Database, path: Path, org_id: str
) -> None:
    with db.transaction() as tx:
        assert tx.org(org_id).name == "Acme"
        _rename_elsewhere(path, org_id, "Renamed")
        assert ServiceBase.locked_org(tx, org_id, exclusive=True).name == "Renamed"


def test_without_rerun_a_shared_organization_lock_takes_the_write_lock(
    db: Database, path: Path, org_id: str
) -> None:
    with db.scope(write=True), db.transaction() as tx:
        ServiceBase.locked_org(tx, org_id)
        assert not _another_writer_gets_in(path)


def test_with_rerun_a_shared_organization_read_waits_and_is_checked_at_the_first_write(
    db: Database, path: Path, org_id: str
) -> None:
    with db.scope(write=True, rerun=True), db.transaction() as tx:
        assert ServiceBase.locked_org(tx, org_id).mode is m.MembershipMode.SSO
        assert _another_writer_gets_in(path)
        _audit(tx, org_id, "after.check")
    assert _actions(db, org_id) == ["after.check"]


def test_an_organization_changed_before_the_lock_makes_the_request_run_again(
    db: Database, path: Path, org_id: str
) -> None:
    raised = _switched_meanwhile(db, path, org_id, lambda tx: _audit(tx, org_id, "too.late"))
    assert raised.retryable and raised.kind is Kind.SERIALIZATION
    assert _actions(db, org_id) == []
    assert _another_writer_gets_in(path)


def test_the_member_read_waits_for_the_lock_and_is_read_again_with_the_organization(
    db: Database, path: Path, org_id: str
) -> None:
    """``Store.member_block_and_domain`` (a SCIM create's read of the member by email) of a rerunnable writer
    reads without the write lock, like its organization; once the lock is taken, one statement reads both
    again, and unchanged rows count as locked."""
    with db.scope(write=True, rerun=True), db.transaction() as tx, count_statements(db.engine) as counted:
        ServiceBase.locked_org(tx, org_id)
        member, blocked, claim = tx.member_block_and_domain(org_id, "ada@example.test", "example.test")
        assert (member, blocked, claim) == (None, False, None)
        assert _another_writer_gets_in(path)
        _audit(tx, org_id, "after.check")
        assert not _another_writer_gets_in(path)
        assert ServiceBase.locked_org(tx, org_id).mode is m.MembershipMode.SSO
    # The organization and the member read before the lock; under it, both again in one statement, the write.
    assert counted.count == 4, counted.report()
    assert "JOIN organizations" in counted.statements[2] and "members" in counted.statements[2]
    assert _actions(db, org_id) == ["after.check"]


def _add_member_elsewhere(path: Path, org_id: str, email: str, user_name: str | None = None) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO members (id, org_id, email, role, status, joined_via, user_name, scim_linked, version, "
        "attributes, created_at, updated_at) VALUES (?, ?, ?, 'member', 'active', 'scim', ?, 1, 1, '{}', ?, ?)",
        (f"elsewhere-{email}", org_id, email, user_name, NOW.isoformat(), NOW.isoformat()),
    )
    conn.close()


def _block_elsewhere(path: Path, org_id: str, email: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO blocked_emails (id, org_id, email, created_by, created_at) VALUES (?, ?, ?, 'admin', ?)",
        (f"block-{email}", org_id, email, NOW.isoformat()),
    )
    conn.close()


@pytest.mark.parametrize("change", ["member joined", "email blocked", "organization switched"])
def test_a_change_to_what_the_member_read_found_makes_the_request_run_again(
    db: Database, path: Path, org_id: str, change: str
) -> None:
    email = "ada@example.test"
    with (
        pytest.raises(DatabaseUnavailable) as raised,
        db.scope(write=True, rerun=True),
        db.transaction() as tx,
    ):
        ServiceBase.locked_org(tx, org_id)
        assert tx.member_block_and_domain(org_id, email, "example.test") == (None, False, None)
        if change == "member joined":
            _add_member_elsewhere(path, org_id, email)
        elif change == "email blocked":
            _block_elsewhere(path, org_id, email)
        else:
            _rename_elsewhere(path, org_id, "Switched meanwhile")
        _audit(tx, org_id, "too.late")
    assert raised.value.retryable and raised.value.kind is Kind.SERIALIZATION
    assert _actions(db, org_id) == []
    assert _another_writer_gets_in(path)


def _new_member(org_id: str, email: str, user_name: str) -> m.Member:
    return fresh(
        m.Member, id=f"new-{email}", org_id=org_id, email=email, role=m.Role.MEMBER,
        status=m.MemberStatus.ACTIVE, joined_via=m.JoinPath.SCIM, user_name=user_name, created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip


def _member_ids(db: Database, org_id: str) -> list[str]:
    return _stored(db, members.c.id, org_id)


def test_new_rows_wait_for_the_lock_and_go_before_any_statement_after_them(
    db: Database, path: Path, org_id: str
) -> None:
    """``Store.insert_new`` of a rerunnable writer before its lock holds the rows back: the lock is taken by
    the next statement of any kind (here a plain read), which the rows precede, so it finds them."""
    with db.scope(write=True, rerun=True), db.transaction() as tx:
        ServiceBase.locked_org(tx, org_id)
        tx.insert_new(_new_member(org_id, "ada@example.test", "ada"))
        assert _another_writer_gets_in(path)
        assert _member_ids(db, org_id) == []
        (found,) = tx.read(
            sa.select(members.c.id).where(members.c.org_id == sa.bindparam("org_id")), {"org_id": org_id}
        )
        assert found == ("new-ada@example.test",)
        assert not _another_writer_gets_in(path)
    assert _member_ids(db, org_id) == ["new-ada@example.test"]


def test_new_rows_with_nothing_after_them_are_written_at_the_commit(
    db: Database, path: Path, org_id: str
) -> None:
    with db.scope(write=True, rerun=True), db.transaction() as tx:
        ServiceBase.locked_org(tx, org_id)
        tx.insert_new(_new_member(org_id, "ada@example.test", "ada"))
        assert _another_writer_gets_in(path)
    assert _member_ids(db, org_id) == ["new-ada@example.test"]
    assert _another_writer_gets_in(path)


def test_a_conflict_of_rows_written_at_the_commit_is_raised_as_the_caller_named_it(
    db: Database, path: Path, org_id: str
) -> None:
    """Another live member took the userName after the read: the held-back row meets the unique index at the
    commit, where the caller's own ``try`` is gone; the error it named in advance is raised, nothing is kept."""
    named = Conflict("A user with userName 'ada' already exists.", field="userName")
    with pytest.raises(Conflict) as raised, db.scope(write=True, rerun=True), db.transaction() as tx:
        ServiceBase.locked_org(tx, org_id)
        tx.insert_new(_new_member(org_id, "ada@example.test", "ada"))
        tx.name_conflicts("userName", named)
        _add_member_elsewhere(path, org_id, "grace@example.test", user_name="ada")
        _audit(tx, org_id, "never.written")
    assert raised.value is named
    assert _member_ids(db, org_id) == ["elsewhere-grace@example.test"]
    assert _actions(db, org_id) == []


def test_a_writer_that_never_writes_never_takes_the_lock(db: Database, path: Path, org_id: str) -> None:
    with db.scope(write=True, rerun=True), db.transaction() as tx:
        ServiceBase.locked_org(tx, org_id)
        tx.org(org_id)
    assert _another_writer_gets_in(path)
    with db.transaction() as tx:
        assert tx.org(org_id) is not None
    assert _another_writer_gets_in(path)


@pytest.mark.parametrize(
    ("clause", "locks"),
    [
        (sa.select(organizations), False),
        (sa.select(organizations).with_for_update(), True),
        (sa.select(organizations).with_for_update(read=True), True),
        (sa.insert(organizations), True),
        (sa.update(organizations), True),
        (sa.delete(organizations), True),
        (sa.text("SELECT 1"), False),
        (sa.text("  select 1"), False),
        (sa.text("UPDATE organizations SET name = 'x'"), True),
        ("SELECT 1", False),
        ("PRAGMA optimize", True),
        ("SAVEPOINT sa_1", True),
    ],
)
def test_which_statements_need_the_write_lock(clause: object, locks: bool) -> None:
    assert needs_write_lock(clause) is locks
