"""Times go in timezone-aware and come back timezone-aware UTC, the same instant, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.db import Database

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_timestamps_come_back_as_aware_utc(db: Database) -> None:
    created = datetime(2026, 7, 14, 11, 30, 15, 123456, tzinfo=PARIS_SUMMER)
    with db.transaction() as tx:
        tx.add(m.Organization("org-1", "acme", "Acme", m.MembershipMode.SSO, created, updated_at=None))
    with db.transaction() as tx:
        org = tx.org("org-1")
        assert org is not None
        assert org.created_at == created
        assert org.created_at.tzinfo is not None and org.created_at.utcoffset() == timedelta(0)
        assert org.created_at == datetime(2026, 7, 14, 9, 30, 15, 123456, tzinfo=UTC)
        assert org.updated_at is None


def test_timestamps_are_stored_as_utc_for_raw_sql_readers(db: Database) -> None:
    with db.transaction() as tx:
        tx.add(
            m.Organization(
                "org-1",
                "acme",
                "Acme",
                m.MembershipMode.SSO,
                datetime(2026, 7, 14, 11, 0, tzinfo=PARIS_SUMMER),
            )
        )
    with db.engine.connect() as conn:
        raw = conn.scalar(sa.text("SELECT created_at FROM organizations"))
    if isinstance(raw, str):  # SQLite keeps the text form
        assert raw.startswith("2026-07-14 09:00:00")
    else:
        assert raw == datetime(2026, 7, 14, 9, 0, tzinfo=UTC)


def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), db.transaction() as tx:
        tx.add(m.Organization("org-1", "acme", "Acme", m.MembershipMode.SSO, datetime(2026, 7, 14, 11, 0)))
        tx.flush()
    with db.transaction() as tx:
        assert tx.org("org-1") is None


def test_time_comparisons_in_queries_use_the_same_instant(db: Database) -> None:
    base = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with db.transaction() as tx:
        tx.add(m.Organization("org-1", "acme", "Acme", m.MembershipMode.SSO, base))
        tx.flush()  # no relationship() tells the unit of work that events depend on their organization
        for i, offset in enumerate((-1, 0, 1)):
            tx.add(
                m.AuditEvent(
                    org_id="org-1",
                    at=base + timedelta(minutes=offset),
                    actor_type=m.ActorType.CLI,
                    action=f"a{i}",
                )
            )
    with db.transaction() as tx:
        later = tx.session.scalars(
            sa.select(m.AuditEvent.action).where(
                m.AuditEvent.at >= datetime(2026, 11, 2, 11, 0, tzinfo=PARIS_SUMMER)
            )
        ).all()
        assert sorted(later) == ["a1", "a2"]
        events, _ = tx.audit_events("org-1")
        assert [e.action for e in events] == ["a2", "a1", "a0"]
        assert all(e.at.utcoffset() == timedelta(0) for e in events)
