"""``Store.update_at_commit``: on PostgreSQL a prebuilt UPDATE goes as a data-modifying CTE of the statement that
writes the rows waiting for the commit (a sign-in ends the browser's previous session there, a round trip
fewer), alone when nothing waits, and before a batch too large for a chain; a savepoint that rolls back takes
it back. SQLite sends it at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.base import hash_token
from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
from gateway.storage.outbox_tables import outbox_events
from gateway.storage.tables import audit_events, web_sessions

CLI = m.Actor.cli()
AT = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


@pytest.fixture
def sent(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield statements
    sa.event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def signed_in(services: Services) -> tuple[str, str, str]:
    """An organization, an Admin of it, and the token of a session of theirs."""
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    member = services.members.add_admin(org.id, "ada@acme.test", CLI)
    _, token = services.sessions.start(org.id, member.id, CLI)
    return org.id, member.id, token


def _revoked_at(db: Database, token: str) -> datetime | None:
    with db.engine.connect() as conn:
        return conn.scalar(
            sa.select(web_sessions.c.revoked_at).where(web_sessions.c.token_hash == hash_token(token))
        )


def _audit(org_id: str, action: str) -> dict[str, object]:
    return {"org_id": org_id, "at": AT, "actor_type": "cli", "action": action, "details": {}}


def _revoke(token: str) -> tuple[sa.Update, dict[str, object]]:
    return hot.revoke_session_by_hash(), {"hash": hash_token(token), "at": AT}


def test_a_sign_in_ends_the_previous_session_in_its_last_statement(
    db: Database, services: Services, signed_in: tuple[str, str, str], sent: list[str]
) -> None:
    org_id, member_id, previous = signed_in
    sent.clear()
    token = services.sessions.sign_in(org_id, member_id, CLI, previous, {})
    assert services.sessions.resolve(previous) is None
    assert services.sessions.resolve(token) is not None
    updates = [s for s in sent if "UPDATE web_sessions SET revoked_at" in s]
    assert len(updates) == 1
    if db.dialect == "postgresql":
        (update,) = updates
        assert update.startswith("WITH ") and "INSERT INTO web_sessions" in update
        assert "INSERT INTO audit_events" in update


def test_an_update_with_rows_waiting_goes_in_their_statement(
    db: Database, signed_in: tuple[str, str, str], sent: list[str]
) -> None:
    org_id, _, token = signed_in
    with db.transaction() as tx:
        tx.update_at_commit(*_revoke(token))
        tx.insert_at_commit(audit_events, [_audit(org_id, "chained")])
        if db.dialect == "postgresql":
            assert _revoked_at(db, token) is None
            sent.clear()
    assert _revoked_at(db, token) == AT
    if db.dialect == "postgresql":
        (statement,) = [s for s in sent if s.startswith(("WITH", "INSERT", "UPDATE"))]
        assert "UPDATE web_sessions" in statement and "INSERT INTO audit_events" in statement


def test_an_update_alone_is_sent_at_the_commit(
    db: Database, signed_in: tuple[str, str, str], sent: list[str]
) -> None:
    _, _, token = signed_in
    with db.transaction() as tx:
        sent.clear()
        tx.update_at_commit(*_revoke(token))
        updates = [s for s in sent if "UPDATE web_sessions" in s]
        assert len(updates) == (0 if db.dialect == "postgresql" else 1)
    assert _revoked_at(db, token) == AT


def test_an_update_goes_before_a_batch_too_large_for_a_chain(
    db: Database, signed_in: tuple[str, str, str]
) -> None:
    org_id, _, token = signed_in
    with db.transaction() as tx:
        tx.update_at_commit(*_revoke(token))
        tx.insert_at_commit(audit_events, [_audit(org_id, f"batch.{i}") for i in range(hot.CHAIN_ROWS + 1)])
    assert _revoked_at(db, token) == AT
    with db.engine.connect() as conn:
        count = conn.scalar(
            sa.select(sa.func.count()).where(
                audit_events.c.org_id == org_id, audit_events.c.action.like("batch.%")
            )
        )
    assert count == hot.CHAIN_ROWS + 1


def test_a_savepoint_that_rolls_back_takes_its_update_back(
    db: Database, signed_in: tuple[str, str, str]
) -> None:
    org_id, _, token = signed_in
    with db.scope(write=True):
        with pytest.raises(LookupError), db.transaction(savepoint=True) as tx:
            tx.update_at_commit(*_revoke(token))
            raise LookupError
        with db.transaction() as tx:
            tx.insert_at_commit(audit_events, [_audit(org_id, "kept")])
    assert _revoked_at(db, token) is None


def test_a_chained_update_must_bind_every_value() -> None:
    constant = sa.update(web_sessions).where(web_sessions.c.token_hash == "fixed").values(revoked_at=AT)
    with pytest.raises(ValueError, match="binds every value"):
        hot.chained_updates((constant,))


@pytest.mark.parametrize("count", [2, hot.CHAIN_ROWS + 1])
def test_an_update_goes_with_numbered_events_or_before_too_many(
    db: Database, signed_in: tuple[str, str, str], count: int
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("events are numbered at the commit on PostgreSQL only")
    org_id, _, token = signed_in
    events = [
        {
            "org_id": org_id,
            "event_id": f"e-{i}",
            "type": "member.updated",
            "occurred_at": AT,
            "payload": {"i": i},
        }
        for i in range(count)
    ]
    numbered: list[int] = []
    with db.transaction() as tx:
        tx.update_at_commit(*_revoke(token))
        tx.number_at_commit(org_id, events, lambda last, _endpoints: numbered.append(last))
    assert _revoked_at(db, token) == AT
    with db.engine.connect() as conn:
        stored = conn.scalar(
            sa.select(sa.func.count()).where(
                outbox_events.c.org_id == org_id, outbox_events.c.event_id.like("e-%")
            )
        )
    assert stored == count and len(numbered) == 1
