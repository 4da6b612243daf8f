"""What a database failure means, and whether trying again can help.

``classify`` sorts an exception raised by SQLAlchemy or the driver into one of a few kinds:

- ``DISCONNECT``: the server went away or cannot be reached (connection refused, reset, terminated by the
  administrator, a failover in progress, a stale pooled connection). SQLAlchemy invalidates the pool on such an
  error, so trying once more runs on a fresh connection: that is what recovers a process whose pooled
  connections all died while the server was away (no ``pool_pre_ping`` needed).
- ``BUSY``: SQLite's write lock is held by another process beyond the busy timeout.
- ``SERIALIZATION``: PostgreSQL aborted the transaction to keep it serializable, or chose it as a deadlock
  victim; the same transaction run again normally succeeds.
- ``EXHAUSTED``: no connection left in this process's pool within its timeout (waiting again only doubles the
  wait); answered at once.
- ``OTHER``: anything else (a constraint, a bug): not this module's business.

``storage_errors()`` wraps a unit of work and turns the first four kinds into ``DatabaseUnavailable`` (a
``domain.errors.Unavailable``, which every adapter answers with 503 and ``Retry-After``). ``call_with_retries``
runs a whole request handler again when that is safe: the failure is retryable, nothing was committed by the
attempt, and the failure did not happen while a COMMIT was in flight (an interrupted COMMIT may have been
applied, so running the work again could write it twice).
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from gateway.domain.errors import Unavailable

log = logging.getLogger("gateway.storage")

T = TypeVar("T")


class Kind(enum.Enum):
    DISCONNECT = "disconnect"
    BUSY = "busy"
    SERIALIZATION = "serialization"
    EXHAUSTED = "exhausted"
    OTHER = "other"


SERIALIZATION_STATES = {"40001", "40P01"}
"""serialization_failure, deadlock_detected."""

DISCONNECT_STATES = {"57P01", "57P02", "57P03", "25006", "53300"}
"""admin_shutdown, crash_shutdown, cannot_connect_now, read_only_sql_transaction (a failover left us on a
standby), too_many_connections. Class 08 (connection exception) is matched by prefix."""

SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error")


def _sqlstate(orig: BaseException | None) -> str | None:
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def classify(exc: BaseException) -> Kind:
    """The kind of a database failure (see the module docstring)."""
    if isinstance(exc, sa.exc.TimeoutError):
        return Kind.EXHAUSTED
    if not isinstance(exc, sa.exc.DBAPIError):
        return Kind.OTHER
    state = _sqlstate(exc.orig)
    if state in SERIALIZATION_STATES:
        return Kind.SERIALIZATION
    if state is not None and (state.startswith("08") or state in DISCONNECT_STATES):
        return Kind.DISCONNECT
    if exc.connection_invalidated:
        return Kind.DISCONNECT
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return Kind.OTHER
    text = str(exc.orig).lower()
    if type(exc.orig).__module__.startswith("sqlite3"):
        if any(marker in text for marker in SQLITE_BUSY):
            return Kind.BUSY
        return Kind.DISCONNECT if any(marker in text for marker in SQLITE_UNREACHABLE) else Kind.OTHER
    # A server driver that raised without an SQLSTATE got no answer: the connection could not be made.
    return Kind.DISCONNECT if state is None else Kind.OTHER


class DatabaseUnavailable(Unavailable):
    """``Unavailable`` with the storage kind behind it and whether the work may be run again."""

    def __init__(self, kind: Kind, *, retryable: bool, retry_after: int = 5) -> None:
        super().__init__(
            "The database is unavailable right now; try again shortly.",
            retry_after=retry_after,
            retryable=retryable,
        )
        self.kind = kind


_in_commit: ContextVar[bool] = ContextVar("gateway_in_commit", default=False)
_commits: ContextVar[int] = ContextVar("gateway_commits", default=0)


def commits() -> int:
    """How many transactions have committed in this context (thread or task) so far."""
    return _commits.get()


def watch_commits(sessions: Any) -> None:
    """Track, on a ``sessionmaker``, when a COMMIT is in flight and when one completed."""
    sa.event.listen(sessions, "before_commit", lambda _session: _in_commit.set(True))
    sa.event.listen(sessions, "after_commit", _after_commit)


def _after_commit(_session: Any) -> None:
    _in_commit.set(False)
    _commits.set(_commits.get() + 1)


@contextmanager
def storage_errors() -> Iterator[None]:
    """Around one unit of work: database outages and contention become ``DatabaseUnavailable``."""
    _in_commit.set(False)
    try:
        yield
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        kind = classify(exc)
        if kind is Kind.OTHER:
            raise
        ambiguous = _in_commit.get()
        _in_commit.set(False)
        log.warning(
            "database %s%s: %s", kind.value, " during COMMIT" if ambiguous else "", type(exc).__name__
        )
        retryable = kind is not Kind.EXHAUSTED and not ambiguous
        raise DatabaseUnavailable(kind, retryable=retryable) from exc


@dataclass(frozen=True)
class RetryPolicy:
    """How often a request is run again: once after a disconnect (a fresh connection either works or the
    database is really away), a few times with a short jittered backoff after busy/serialization errors."""

    disconnect_attempts: int = 1
    contention_attempts: int = 4
    base_delay: float = 0.02
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return self.base_delay * (2**attempt) * (0.5 + random.random())


DEFAULT_POLICY = RetryPolicy()


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """Run ``fn``; run it again after a retryable ``DatabaseUnavailable`` when it committed nothing.

    When retries are spent the last ``DatabaseUnavailable`` propagates (marked not retryable, so an outer
    wrapper does not retry it again)."""
    disconnects = contention = 0
    while True:
        mark = commits()
        try:
            return fn()
        except DatabaseUnavailable as exc:
            if not exc.retryable or commits() != mark:
                exc.retryable = False
                raise
            if exc.kind is Kind.DISCONNECT and disconnects < policy.disconnect_attempts:
                disconnects += 1
                continue
            if exc.kind in (Kind.BUSY, Kind.SERIALIZATION) and contention < policy.contention_attempts:
                policy.sleep(policy.delay(contention))
                contention += 1
                continue
            exc.retryable = False
            raise


def note_commit_for_tests() -> None:
    """Count a commit in this context as ``after_commit`` does (tests of the retry rule)."""
    _after_commit(None)
