"""Classifying database failures and retrying requests: a disconnect once on a fresh connection, SQLite busy
and PostgreSQL serialization/deadlock a bounded number of times, never after a commit or during one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from gateway.domain import model as m
from gateway.storage.errors import (
    DatabaseUnavailable,
    Kind,
    RetryPolicy,
    call_with_retries,
    classify,
    note_commit_for_tests,
)

CLI = m.Actor.cli()


def _wrapped(
    orig: BaseException, cls: type[sa.exc.DBAPIError] = sa.exc.OperationalError
) -> sa.exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


def test_sqlite_locked_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as caught:
        other.execute("BEGIN IMMEDIATE")
    holder.close()
    other.close()
    assert classify(_wrapped(caught.value)) is Kind.BUSY


def test_postgres_serialization_and_deadlock_are_serialization() -> None:
    assert classify(_wrapped(psycopg.errors.SerializationFailure("x"))) is Kind.SERIALIZATION
    assert classify(_wrapped(psycopg.errors.DeadlockDetected("x"))) is Kind.SERIALIZATION


def test_postgres_shutdown_failover_and_refused_connections_are_disconnects() -> None:
    assert classify(_wrapped(psycopg.errors.AdminShutdown("x"))) is Kind.DISCONNECT
    assert classify(_wrapped(psycopg.errors.ReadOnlySqlTransaction("x"))) is Kind.DISCONNECT
    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert classify(_wrapped(refused)) is Kind.DISCONNECT
    assert classify(sa.exc.TimeoutError("QueuePool limit reached")) is Kind.EXHAUSTED


def test_constraint_errors_and_missing_tables_are_not_outages() -> None:
    assert classify(_wrapped(psycopg.errors.UniqueViolation("x"), sa.exc.IntegrityError)) is Kind.OTHER
    assert classify(_wrapped(sqlite3.OperationalError("no such table: members"))) is Kind.OTHER
    assert classify(ValueError("x")) is Kind.OTHER


class Flaky:
    def __init__(self, *failures: DatabaseUnavailable) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def _unavailable(kind: Kind, retryable: bool = True) -> DatabaseUnavailable:
    return DatabaseUnavailable(kind, retryable=retryable)


POLICY = RetryPolicy(contention_attempts=3, sleep=lambda _s: None)


def test_busy_and_serialization_are_retried_a_bounded_number_of_times() -> None:
    flaky = Flaky(_unavailable(Kind.BUSY), _unavailable(Kind.SERIALIZATION), _unavailable(Kind.BUSY))
    assert call_with_retries(flaky, POLICY) == "ok"
    assert flaky.calls == 4
    hopeless = Flaky(*[_unavailable(Kind.BUSY) for _ in range(10)])
    with pytest.raises(DatabaseUnavailable) as caught:
        call_with_retries(hopeless, POLICY)
    assert hopeless.calls == 4
    assert caught.value.retryable is False


def test_a_disconnect_is_retried_once() -> None:
    recovers = Flaky(_unavailable(Kind.DISCONNECT))
    assert call_with_retries(recovers, POLICY) == "ok"
    away = Flaky(_unavailable(Kind.DISCONNECT), _unavailable(Kind.DISCONNECT))
    with pytest.raises(DatabaseUnavailable):
        call_with_retries(away, POLICY)
    assert away.calls == 2


def test_nothing_is_retried_after_a_commit_or_an_interrupted_commit() -> None:
    def commits_then_fails() -> str:
        note_commit_for_tests()
        raise _unavailable(Kind.DISCONNECT)

    with pytest.raises(DatabaseUnavailable):
        call_with_retries(commits_then_fails, POLICY)
    during_commit = Flaky(_unavailable(Kind.DISCONNECT, retryable=False))
    with pytest.raises(DatabaseUnavailable):
        call_with_retries(during_commit, POLICY)
    assert during_commit.calls == 1


@pytest.mark.postgres
def test_stale_pooled_connections_recover_without_pre_ping(
    app: Flask, db_url: str, app_services, client
) -> None:  # type: ignore[no-untyped-def]
    """The server ended every session (a restart, a failover): the next request runs on a fresh connection."""
    if not db_url.startswith("postgresql"):
        pytest.skip("connection termination is a PostgreSQL server action")
    app_services.db.engine.pool._pre_ping = False  # the behaviour under test must not depend on pre-ping
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    token = app_services.credentials.create_scim_token(org.id, CLI).token
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/scim/v2/Users", headers=headers).status_code == 200
    name = sa.make_url(db_url).database
    admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        ).scalar()
    admin.dispose()
    assert ended >= 1
    response = client.post(
        "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.com"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert client.get("/scim/v2/Users", headers=headers).json["totalResults"] == 1


@pytest.mark.postgres
def test_readyz_is_ready_again_on_the_first_probe_after_the_server_ended_every_session(
    app: Flask, db_url: str, app_services, client
) -> None:  # type: ignore[no-untyped-def]
    """A process that served nothing since the database came back answers its first readiness probe from a
    fresh connection, not from the dead one in its pool. (The test database is built without migrations, so
    the schema check says ``not_migrated``; what is checked here is the database's reachability.)"""
    if not db_url.startswith("postgresql"):
        pytest.skip("connection termination is a PostgreSQL server action")
    app_services.db.engine.pool._pre_ping = False
    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"  # a pooled connection now
    name = sa.make_url(db_url).database
    admin = sa.create_engine(db_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    admin.dispose()
    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
