"""The kept list sizes (``gateway.storage.count_tables``) equal the rows, whatever changes them and however the
schema was built: triggers, not the services, keep them, so the changes here are plain SQL."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage import count_tables as counts
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.tables import audit_events, members

from .conftest import insert_org

AT = datetime(2026, 12, 7, tzinfo=UTC)
STATUSES = [s.value for s in m.MemberStatus]


def member_row(org_id: str, status: str = "active", n: int = 0) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "email": f"p{uuid.uuid4().hex[:10]}@count.example",
        "role": "member",
        "status": status,
        "joined_via": "scim",
        "scim_linked": True,
        "version": 1,
        "attributes": {},
        "created_at": AT + timedelta(seconds=n),
        "updated_at": AT,
    }


def audit_row(org_id: str) -> dict[str, object]:
    return {"org_id": org_id, "at": AT, "actor_type": "system", "action": "test.counted", "details": {}}


def kept(db: Database, org_id: str) -> dict[str, int]:
    """Every list's kept size for the organization, read through ``count_tables`` in one transaction."""
    with db.transaction(write=False) as tx:
        sizes = {s: counts.members_total(tx.session, org_id, m.MemberStatus(s)) for s in STATUSES}
        sizes["live"] = counts.members_total(tx.session, org_id, None)
        sizes["audit"] = counts.total(tx.session, org_id, [counts.AUDIT])
        sizes["all members"] = tx.count_members(org_id, live_only=False)
        return sizes


def counted(db: Database, org_id: str) -> dict[str, int]:
    """The same sizes counted from the rows."""
    with db.engine.connect() as conn:
        by_status = dict(
            conn.execute(
                sa.select(members.c.status, sa.func.count())
                .where(members.c.org_id == org_id)
                .group_by(members.c.status)
            ).all()
        )
        audit = conn.scalar(sa.select(sa.func.count()).where(audit_events.c.org_id == org_id))
    sizes = {s: int(by_status.get(s, 0)) for s in STATUSES}
    sizes["live"] = sizes["active"] + sizes["suspended"]
    sizes["audit"] = int(audit or 0)
    sizes["all members"] = sum(sizes[s] for s in STATUSES)
    return sizes


def test_kept_sizes_follow_every_kind_of_change(schema_db: Database) -> None:
    orgs = [insert_org(schema_db, slug) for slug in ("one", "two", "three")]
    rng = random.Random(7)
    live: list[tuple[str, str]] = []  # (member id, org id)
    for step in range(240):
        kind = rng.choice(
            ["insert", "insert", "status", "move", "delete", "audit", "audit_many", "audit_del"]
        )
        with schema_db.engine.begin() as conn:
            if kind == "insert" or not live:
                rows = [
                    member_row(rng.choice(orgs), rng.choice(STATUSES), step) for _ in range(rng.randint(1, 3))
                ]
                conn.execute(sa.insert(members), rows)
                live += [(str(r["id"]), str(r["org_id"])) for r in rows]
            elif kind == "status":
                member_id, _ = rng.choice(live)
                conn.execute(
                    sa.update(members).where(members.c.id == member_id).values(status=rng.choice(STATUSES))
                )
            elif kind == "move":
                i = rng.randrange(len(live))
                org_id = rng.choice(orgs)
                conn.execute(sa.update(members).where(members.c.id == live[i][0]).values(org_id=org_id))
                live[i] = (live[i][0], org_id)
            elif kind == "delete":
                member_id, _ = live.pop(rng.randrange(len(live)))
                conn.execute(sa.delete(members).where(members.c.id == member_id))
            elif kind == "audit":
                conn.execute(sa.insert(audit_events), audit_row(rng.choice(orgs)))
            elif kind == "audit_many":
                conn.execute(
                    sa.insert(audit_events), [audit_row(rng.choice(orgs)) for _ in range(rng.randint(2, 6))]
                )
            else:
                oldest = sa.select(sa.func.min(audit_events.c.id)).where(
                    audit_events.c.org_id == rng.choice(orgs)
                )
                conn.execute(sa.delete(audit_events).where(audit_events.c.id == oldest.scalar_subquery()))
    for org_id in orgs:
        assert kept(schema_db, org_id) == counted(schema_db, org_id)
    assert sum(counted(schema_db, org_id)["all members"] for org_id in orgs) == len(live)


def test_a_transaction_sees_its_own_changes_and_a_rollback_leaves_none(schema_db: Database) -> None:
    org_id = insert_org(schema_db)
    with schema_db.transaction() as tx:
        tx.session.execute(sa.insert(members), [member_row(org_id) for _ in range(3)])
        assert counts.members_total(tx.session, org_id, None) == 3
    try:
        with schema_db.transaction() as tx:
            tx.session.execute(sa.insert(members), member_row(org_id))
            tx.session.execute(sa.insert(audit_events), audit_row(org_id))
            assert counts.members_total(tx.session, org_id, m.MemberStatus.ACTIVE) == 4
            raise LookupError("roll back")
    except LookupError:
        pass
    assert kept(schema_db, org_id) == counted(schema_db, org_id)
    assert kept(schema_db, org_id)["live"] == 3


def test_the_migration_counts_the_rows_that_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'backfill.db'}"
    upgrade(url, "0017")
    db = Database(url)
    try:
        org_id = insert_org(db)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(members), [member_row(org_id, s) for s in STATUSES * 3])
            conn.execute(sa.insert(audit_events), [audit_row(org_id) for _ in range(5)])
        upgrade(url)
        assert kept(db, org_id) == counted(db, org_id) == {
            "active": 3, "suspended": 3, "removed": 3, "live": 6, "audit": 5, "all members": 9,
        }  # fmt: skip
        with db.engine.begin() as conn:
            conn.execute(sa.insert(members), member_row(org_id))
        assert kept(db, org_id)["active"] == 4
    finally:
        db.dispose()
