"""PostgreSQL's one-statement INSERT of several tables' rows (``hot_statements.insert_chain``): compiled once per
shape, each table's rows stored in their order (serial ids follow it), values of every type bound as the ORM
binds them, and a batch too large for a cached shape written all the same."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import CacheStats

from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
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
