"""PostgreSQL's one-statement INSERT of several tables' rows (``hot_statements.insert_chain``): compiled once per
shape, each table's rows stored in their order (serial ids follow it), values of every type bound as the ORM
binds them, and a batch too large for a cached shape written all the same. The same statement can also number
an organization's outbox events (``Store.number_at_commit``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import CacheStats

from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
from gateway.storage.outbox_tables import outbox_events, webhook_endpoints
from gateway.storage.scim_log_tables import scim_request_log
from gateway.storage.tables import audit_events

from .conftest import insert_org

AT = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
def pg(db: Database) -> Database:
    if db.dialect != "postgresql":
        pytest.skip("the chained INSERT is PostgreSQL's (SQLite has no data-modifying CTEs)")
    return db


def _audit(org_id: str, action: str) -> dict[str, object]:
    return {"org_id": org_id, "at": AT, "actor_type": "cli", "action": action, "details": {"n": [1, "two"]}}


def _log(org_id: str, status: int) -> dict[str, object]:
    return {"org_id": org_id, "at": AT, "method": "POST", "path": "/scim/v2/Users", "status": status}


def _write(db: Database, parts: list[tuple[sa.Table, list[dict[str, object]]]]) -> CacheStats:
    seen: list[CacheStats] = []

    def note(_conn, _cursor, _statement, _params, context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(context.cache_hit)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.engine.begin() as conn:
            conn.execute(*hot.insert_chain(parts))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    return seen[-1]


def test_rows_of_one_shape_are_compiled_once_and_kept_in_order(pg: Database) -> None:
    org_id = insert_org(pg)
    first = _write(
        pg,
        [(audit_events, [_audit(org_id, "a"), _audit(org_id, "b")]), (scim_request_log, [_log(org_id, 201)])],
    )
    again = _write(
        pg,
        [(audit_events, [_audit(org_id, "c"), _audit(org_id, "d")]), (scim_request_log, [_log(org_id, 204)])],
    )
    assert first is CacheStats.CACHE_MISS and again is CacheStats.CACHE_HIT
    with pg.engine.connect() as conn:
        audit = conn.execute(
            sa.select(audit_events).where(audit_events.c.org_id == org_id).order_by(audit_events.c.id)
        ).all()
        logged = conn.scalars(
            sa.select(scim_request_log.c.status).where(scim_request_log.c.org_id == org_id)
        ).all()
    assert [row.action for row in audit] == ["a", "b", "c", "d"]
    assert all(row.at == AT and row.details == {"n": [1, "two"]} for row in audit)
    assert sorted(logged) == [201, 204]


def test_a_batch_beyond_the_cached_shapes_is_written_whole_and_in_order(pg: Database) -> None:
    org_id = insert_org(pg)
    actions = [f"bulk.{i:03d}" for i in range(hot.CHAIN_ROWS + 1)]
    _write(
        pg, [(audit_events, [_audit(org_id, a) for a in actions]), (scim_request_log, [_log(org_id, 200)])]
    )
    with pg.engine.connect() as conn:
        stored = conn.scalars(
            sa.select(audit_events.c.action)
            .where(audit_events.c.org_id == org_id)
            .order_by(audit_events.c.id)
        ).all()
    assert stored == actions


_EVENT_IDS = itertools.count(1_000_000)


def _event(org_id: str, n: int) -> dict[str, object]:
    return {
        "org_id": org_id,
        "event_id": f"evt_{next(_EVENT_IDS)}",
        "type": "member.joined",
        "occurred_at": AT,
        "payload": {"id": f"evt_{n}", "sequence": 0, "data": {"email": f"é{n}@example.com"}},
    }


def _number(db: Database, org_id: str, events: int, audits: int) -> tuple[int, bool, list[str]]:
    """One transaction numbering ``events`` at its commit beside ``audits`` audit rows: what ``then`` got and
    the statements the commit sent."""
    got: list[tuple[int, bool]] = []
    sent: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    with db.transaction() as tx:
        tx.insert_at_commit(audit_events, [_audit(org_id, f"a{i}") for i in range(audits)])
        rows = [_event(org_id, i) for i in range(events)]
        tx.number_at_commit(org_id, rows, lambda last, has: got.append((last, has)))
        sa.event.listen(db.engine, "before_cursor_execute", note)
    sa.event.remove(db.engine, "before_cursor_execute", note)
    ((last, has_endpoints),) = got
    return last, has_endpoints, sent


def _stored_events(db: Database, org_id: str) -> list[tuple[int, str, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_events.c.seq, outbox_events.c.event_id, outbox_events.c.payload)
            .where(outbox_events.c.org_id == org_id)
            .order_by(outbox_events.c.id)
        ).all()
    return [(seq, event_id, payload["sequence"]) for seq, event_id, payload in rows]


def test_the_last_statement_numbers_the_events_and_writes_every_waiting_row(pg: Database) -> None:
    org_id = insert_org(pg)
    assert _number(pg, org_id, events=2, audits=1)[:2] == (2, False)
    last, has_endpoints, sent = _number(pg, org_id, events=3, audits=2)
    assert (last, has_endpoints) == (5, False)
    # One statement before the commit: the numbering, the events and the audit rows together.
    assert len(sent) == 1 and "outbox_cursors" in sent[0] and "audit_events" in sent[0]
    stored = _stored_events(pg, org_id)
    assert [seq for seq, _, _ in stored] == [1, 2, 3, 4, 5]
    assert all(sequence == seq for seq, _, sequence in stored)
    assert [event_id for _, event_id, _ in stored] == sorted(event_id for _, event_id, _ in stored)
    with pg.engine.connect() as conn:
        payload = conn.scalar(sa.select(outbox_events.c.payload).where(outbox_events.c.seq == 5))
        audits = conn.scalar(sa.select(sa.func.count()).where(audit_events.c.org_id == org_id))
    assert payload["data"] == {"email": "é2@example.com"} and audits == 3


def test_numbering_a_batch_beyond_the_cached_shapes_gives_the_same_numbers(pg: Database) -> None:
    org_id = insert_org(pg)
    _number(pg, org_id, events=1, audits=0)
    last, _, _ = _number(pg, org_id, events=hot.CHAIN_ROWS, audits=1)
    assert last == hot.CHAIN_ROWS + 1
    stored = _stored_events(pg, org_id)
    assert [seq for seq, _, _ in stored] == list(range(1, hot.CHAIN_ROWS + 2))
    assert all(sequence == seq for seq, _, sequence in stored)


def test_the_numbering_says_whether_the_organization_has_a_webhook_endpoint(pg: Database) -> None:
    org_id = insert_org(pg)
    with pg.engine.begin() as conn:
        conn.execute(
            sa.insert(webhook_endpoints).values(
                id="ep1",
                org_id=org_id,
                url="https://hooks.example/in",
                sealed_secret="sealed",
                event_types=[],
                created_at=AT,
                updated_at=AT,
            )
        )
    assert _number(pg, org_id, events=1, audits=1)[:2] == (1, True)
