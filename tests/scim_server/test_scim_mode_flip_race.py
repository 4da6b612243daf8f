"""Rule 1 under load: an Admin switches the organization to invitation mode while two processes push 200 SCIM
creates into it on one database. On PostgreSQL membership changes hold the organization's lock shared (they run
side by side); the switch takes it exclusively, so it waits for the creates in flight, and every create after it
sees the new mode. On SQLite a create reads the organization before it takes the write lock and reads it again
under the lock: a create that read it before the switch committed runs again and is refused. Whatever the interleaving, each create either committed before the switch (the member exists,
with its audit row and its outbox event, all numbered before the switch's) or was refused after it (nothing of
it exists)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage.outbox_tables import outbox_events
from gateway.storage.tables import audit_events, members

CLI = m.Actor.cli()
WORKER = Path(__file__).with_name("scim_race_worker.py")
PER_PROCESS = 100
SWITCH_AFTER = 40
"""Members that must exist before the switch, so that it lands in the middle of the run."""


def _start(
    db_url: str, token: str, prefix: str, instance: Path, count: int = PER_PROCESS
) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), db_url, token, prefix, str(count), str(instance)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=root,
    )  # fmt: skip


def _live_members(services: Services, org_id: str) -> int:
    with services.db.engine.connect() as conn:
        return int(
            conn.scalar(sa.select(sa.func.count()).select_from(members).where(members.c.org_id == org_id))
        )


def test_mode_flip_during_two_processes_of_scim_creates(
    db_url: str, app_services: Services, tmp_path: Path
) -> None:
    services = app_services  # wired as in production: its changes reach the outbox
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    token = services.credentials.create_scim_token(org.id, CLI).token
    workers = [_start(db_url, token, name, tmp_path / name) for name in ("p1", "p2")]
    try:
        for worker in workers:
            assert json.loads(worker.stdout.readline()) == {"ready": True}  # type: ignore[union-attr]
        while _live_members(services, org.id) < SWITCH_AFTER:
            assert all(w.poll() is None for w in workers), "a worker ended before the switch"
        plan = services.mode.apply(org.id, m.MembershipMode.INVITATION, CLI)
        assert plan.allowed
        outcomes = [json.loads(line) for w in workers for line in w.stdout]  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.wait(timeout=120)
    assert all(w.returncode == 0 for w in workers)

    assert len(outcomes) == 2 * PER_PROCESS
    assert {o["status"] for o in outcomes} <= {201, 403}, sorted({o["status"] for o in outcomes})
    created = {o["user"] for o in outcomes if o["status"] == 201}
    refused = {o["user"] for o in outcomes if o["status"] == 403}
    assert created and refused, "the switch did not land in the middle of the run"

    with services.db.engine.connect() as conn:
        stored = set(conn.scalars(sa.select(members.c.email).where(members.c.org_id == org.id)))
        switched_at = conn.scalar(
            sa.select(audit_events.c.id).where(
                audit_events.c.org_id == org.id, audit_events.c.action == "mode.switched"
            )
        )
        joined = conn.execute(
            sa.select(audit_events.c.id, audit_events.c.target_id).where(
                audit_events.c.org_id == org.id, audit_events.c.action == "member.joined"
            )
        ).all()
        events = conn.execute(
            sa.select(outbox_events.c.seq, outbox_events.c.type, outbox_events.c.payload)
            .where(outbox_events.c.org_id == org.id)
            .order_by(outbox_events.c.seq)
        ).all()
    assert stored == created, "a created user is missing, or a refused one exists"
    assert len(joined) == len(created)
    assert all(audit_id < switched_at for audit_id, _ in joined), "a member joined after the switch"
    created_events = [e for e in events if e.type == "member.created"]
    assert sorted(e.payload["data"]["member"]["email"] for e in created_events) == sorted(created)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "outbox numbers have gaps"
    switch_seq = next(e.seq for e in events if e.type == "mode.switched")
    assert all(e.seq < switch_seq for e in created_events), "an event was numbered after the switch"


def test_two_processes_pushing_the_same_users_create_each_once(
    db_url: str, app_services: Services, tmp_path: Path
) -> None:
    """Two processes push the same users at once. On SQLite each create reads the member by email before the
    write lock and again under it (``gateway.storage.first_write``); on PostgreSQL the email's join lock orders
    them. Either way each user is created once: one push gets 201, the other 409, never an error or a twin."""
    services = app_services
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    token = services.credentials.create_scim_token(org.id, CLI).token
    count = 60
    workers = [_start(db_url, token, "same", tmp_path / name, count) for name in ("p1", "p2")]
    try:
        for worker in workers:
            assert json.loads(worker.stdout.readline()) == {"ready": True}  # type: ignore[union-attr]
        outcomes = [json.loads(line) for w in workers for line in w.stdout]  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.wait(timeout=120)
    assert all(w.returncode == 0 for w in workers)

    by_user: dict[str, list[int]] = {}
    for outcome in outcomes:
        by_user.setdefault(outcome["user"], []).append(outcome["status"])
    assert len(by_user) == count
    assert all(sorted(statuses) == [201, 409] for statuses in by_user.values()), by_user
    with services.db.engine.connect() as conn:
        stored = list(conn.scalars(sa.select(members.c.email).where(members.c.org_id == org.id)))
        joined = conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(audit_events.c.org_id == org.id, audit_events.c.action == "member.joined")
        )
    assert sorted(stored) == sorted(by_user), "a user is missing or has a twin"
    assert joined == count
