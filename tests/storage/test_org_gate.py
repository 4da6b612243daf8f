"""PostgreSQL: a mode switch waiting for the organization cannot be starved by a stream of membership changes.

Membership changes lock the organization row ``FOR SHARE`` and a switch ``FOR UPDATE``; row locks alone let each
new shared locker join the current ones while the switch waits, so during a sync the switch would wait until the
identity provider stopped. The organization's gate (an advisory lock taken in the same statements) queues them
fairly: a change that arrives while a switch waits waits behind it. Deterministic: the test sees the switch
waiting in ``pg_locks`` and gives the later change a lock timeout instead of sleeping."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage import hot_statements as hot
from gateway.storage.db import Database

CLI = m.Actor.cli()
WAIT = 10.0  # upper bound for the switch to show up as waiting; never a measure of speed


def _waiting(db: Database, pid: int) -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.scalar(
                sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": pid}
            )
        )


def test_a_waiting_switch_goes_before_later_membership_changes(db: Database, services: Services) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite serializes every writer; there is nothing to queue")
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    share, exclusive = hot.org_row_locked(1), hot.org_row_locked(2)
    first, switch, later = (db.engine.connect() for _ in range(3))
    outcome: dict[str, Any] = {}
    try:
        first.begin()
        assert first.execute(share, {"org_id": org.id}).first() is not None  # a change in flight
        switch_pid = switch.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        switch.commit()

        def run_switch() -> None:
            with switch.begin():
                switch.execute(exclusive, {"org_id": org.id})
                switch.execute(
                    sa.text("UPDATE organizations SET mode = 'invitation' WHERE id = :id"), {"id": org.id}
                )
            outcome["switched"] = True

        thread = threading.Thread(target=run_switch)
        thread.start()
        seen = threading.Event()
        for _ in range(int(WAIT / 0.05)):
            if _waiting(db, switch_pid):
                break
            seen.wait(0.05)
        else:
            pytest.fail("the switch never waited for the change in flight")

        # A change arriving now queues behind the waiting switch instead of joining the change in flight.
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"), later.begin():
            later.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
            later.execute(share, {"org_id": org.id})

        first.commit()  # the change in flight ends: the switch goes
        thread.join(WAIT)
        assert outcome.get("switched") is True
        with later.begin():
            row = later.execute(share, {"org_id": org.id}).first()
        assert row is not None and row.mode == "invitation"  # and the later change sees it
    finally:
        for conn in (first, switch, later):
            conn.close()
