"""Engine and transactions. One ``Database`` per app; each use case runs in one ``transaction()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.errors import InvalidInput
from gateway.storage.errors import storage_errors, watch_commits
from gateway.storage.store import Store
from gateway.storage.tables import map_entities, metadata


def _make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _begin_immediate).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
            # Take SQLite's write lock at the start so that check-then-write use cases (accepting an
            # invitation while the mode flips) are serialized, as SELECT ... FOR UPDATE does on PostgreSQL.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


UNSTORABLE = (
    "A value is too long or contains characters that cannot be stored "
    "(control characters such as NUL, or unpaired surrogates)."
)


class Database:
    def __init__(self, url: str) -> None:
        map_entities()
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        watch_commits(self._sessions)  # outage handling (gateway.storage.errors)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """A unit of work: commits when the block ends, rolls everything back if it raises. An outage or
        contention surfaces as ``DatabaseUnavailable`` (see ``gateway.storage.errors``)."""
        with storage_errors():
            session: Session = self._sessions()
            try:
                with session.begin():
                    yield Store(session)
            except (sa.exc.DataError, UnicodeEncodeError) as exc:
                # Input the adapters let through but the database cannot hold (a NUL byte, an unpaired
                # surrogate from a JSON escape, a value longer than its column): the caller's error.
                raise InvalidInput(UNSTORABLE) from exc
            finally:
                session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def create_all(self) -> None:
        """Create tables straight from the models (tests); deployments use ``gateway db upgrade``."""
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
