"""The organization read with its lock (``Store.org(..., lock=...)``), on both stores: read as a plain row, it is
held by the session as the ORM's locking query held it: the transaction's earlier copy brought up to what the
lock read, or a new object attached, so a change to it is written at commit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.storage.db import Database
from gateway.storage.store import EXCLUSIVE, SHARE
from gateway.storage.tables import organizations

from .conftest import insert_org


def _rename_elsewhere(db: Database, org_id: str, name: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.update(organizations).where(organizations.c.id == org_id).values(name=name))


def _name(db: Database, org_id: str) -> str:
    with db.engine.connect() as conn:
        return str(conn.scalar(sa.select(organizations.c.name).where(organizations.c.id == org_id)))


@pytest.mark.parametrize("strength", [SHARE, EXCLUSIVE])
def test_a_locked_read_brings_the_transaction_s_earlier_copy_up_to_date(db: Database, strength: int) -> None:
    org_id = insert_org(db)
    with db.transaction() as tx:
        earlier = tx.org(org_id)
        assert earlier is not None and earlier.name == "Acme"
        _rename_elsewhere(db, org_id, "Renamed")
        locked = tx.org(org_id, lock=strength)
        assert locked is earlier
        assert locked.name == "Renamed"
        assert locked not in tx.session.dirty  # brought up to date, not changed


def test_an_organization_first_read_with_its_lock_is_held_by_the_session(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction() as tx:
        org = tx.org(org_id, lock=EXCLUSIVE)
        assert org is not None and org in tx.session
        assert tx.org(org_id) is org  # the transaction's later reads get the same object
        org.name = "Changed under the lock"
    assert _name(db, org_id) == "Changed under the lock"


def test_a_pending_change_is_flushed_before_the_locked_read(db: Database) -> None:
    org_id = insert_org(db)
    with db.transaction() as tx:
        org = tx.org(org_id)
        assert org is not None
        org.name = "Pending"
        assert tx.org(org_id, lock=EXCLUSIVE).name == "Pending"
    assert _name(db, org_id) == "Pending"


def test_a_locked_read_of_an_unknown_organization_is_none(db: Database) -> None:
    insert_org(db)
    with db.transaction() as tx:
        assert tx.org("no-such-org", lock=SHARE) is None
        assert tx.org("no-such-org", lock=EXCLUSIVE) is None
