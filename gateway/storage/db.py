"""Engine and transactions. One ``Database`` per app; each use case runs in one ``transaction()``.

A request an identity provider makes 100,000 times in a row (a SCIM create, a sign-in) should cost one
transaction, not one per use case it calls. An adapter therefore opens a ``scope()`` around the request: every
``transaction()`` inside it joins the scope's single transaction, which commits when the scope ends. A use case
that raises rolls that transaction back at once, so the request's later use cases (a refusal's audit row)
start a fresh one and nothing half-done is ever committed.

Audit and outbox rows are buffered and written just before the commit, each table's rows as one multi-row
``INSERT``. A uniqueness rule the database refuses becomes the domain error registered for
its constraint (``gateway.storage.constraints``); an outage or contention surfaces as ``DatabaseUnavailable``
(``gateway.storage.errors``), which the adapters answer with 503 and may run again when nothing committed.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.errors import InvalidInput
from gateway.storage.checkpoints import no_automatic_checkpoint, passive_checkpoint
from gateway.storage.constraints import domain_error_for
from gateway.storage.errors import storage_errors, watch_commits
from gateway.storage.first_write import QUEUED, FirstWrite, before_execute
from gateway.storage.search_tables import index_pending_members
from gateway.storage.statistics import keep_postgresql_statistics_fresh, keep_sqlite_statistics_fresh
from gateway.storage.store import Store
from gateway.storage.tables import map_entities, metadata
from gateway.storage.write_lock import WriteQueue

_BEGIN_WRITE: ContextVar[bool] = ContextVar("gateway_begin_write", default=True)
"""Read by SQLite's ``begin`` hook: take the write lock at once (``BEGIN IMMEDIATE``) or read a snapshot."""


def _make_engine(url: str, pool_size: int, max_overflow: int) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _begin).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a process crash; a power loss can lose the transactions
            # committed since the last checkpoint (the README says so). FULL would fsync on every commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # A statement's rollback journal (an INSERT into members touches 12 B-trees) spilled to a temporary
            # file past 64 KiB: one created, written and unlinked for every other SCIM create. In memory instead.
            cursor.execute("PRAGMA temp_store=MEMORY")
            no_automatic_checkpoint(cursor)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            # A reader begins nothing: each of its statements reads its own snapshot, which never blocks the
            # writer (WAL), as PostgreSQL's readers do in autocommit (see ``Database._begin``). Neither does a
            # writer on a database file: it takes the write lock at its first write (``first_write``). Only
            # an in-memory database's writer (no queue to wait in) takes it at the start.
            if _BEGIN_WRITE.get():
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        event.listen(engine, "before_execute", before_execute)
        keep_sqlite_statistics_fresh(engine)
        return engine
    # No ping on every checkout: a connection broken by a restart or failover raises a disconnect error, upon
    # which SQLAlchemy invalidates the whole pool, so the next checkouts connect afresh. ``pool_recycle``
    # retires connections before a proxy or server idle timeout can cut them.
    engine = sa.create_engine(
        url,
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_use_lifo=True,
    )
    keep_postgresql_statistics_fresh(engine)
    return engine


UNSTORABLE = (
    "A value is too long or contains characters that cannot be stored "
    "(control characters such as NUL, or unpaired surrogates)."
)


@dataclass
class _Scope:
    """The transaction a request's use cases share (see the module docstring)."""

    db: Database
    write: bool
    rerun: bool = False
    session: Session | None = None
    store: Store | None = None
    after_commit: list[Callable[[Store], None]] = field(default_factory=list)


_SCOPE: ContextVar[_Scope | None] = ContextVar("gateway_tx_scope", default=None)


UPKEEP_EVERY = 32
"""Write transactions of one process between two runs of SQLite's upkeep (see ``Database._upkeep``)."""
CHECKPOINT_EVERY = 4
"""Runs of the upkeep between two WAL checkpoints (one per 128 write transactions of a process). Each checkpoint
copies every page the WAL changed since the last one and syncs the database file; the pages a create changes
are mostly the same few (each index's last leaf, the outbox cursor), so copying them a quarter as often saved
a third of the upkeep's time (about 3% of a SCIM create) while the WAL stays under about 25 MB."""
_UPKEEP_DUE: ContextVar[bool] = ContextVar("gateway_upkeep_due", default=False)

log = logging.getLogger("gateway.storage")


def _raise_translated(exc: BaseException) -> None:
    """Raise the domain error a storage failure stands for, if it stands for one."""
    if isinstance(exc, sa.exc.IntegrityError):
        error = domain_error_for(exc)
        if error is not None:
            raise error from exc
    if isinstance(exc, sa.exc.DataError | UnicodeEncodeError):
        # Input the adapters let through but the database cannot hold (a NUL byte, an unpaired surrogate
        # from a JSON escape, a value longer than its column): the caller's error, not a server fault.
        raise InvalidInput(UNSTORABLE) from exc


class Database:
    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> None:
        map_entities()
        self.url = url
        self.engine = _make_engine(url, pool_size, max_overflow)
        self.dialect = self.engine.dialect.name
        path = self.engine.url.database if self.dialect == "sqlite" else None
        self._writers = WriteQueue(path) if path and path != ":memory:" else None
        self._writes = itertools.count(1)
        self._upkeep_engine: sa.Engine | None = None
        self._upkeep_lock = threading.Lock()
        self._upkeeps = itertools.count(1)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        watch_commits(self._sessions)  # outage handling (gateway.storage.errors)

    # -- units of work -------------------------------------------------------------------------------------
    @contextmanager
    def scope(self, *, write: bool, rerun: bool = False) -> Iterator[None]:
        """Run every ``transaction()`` opened inside the block in one transaction, committed at its end.

        ``write`` says whether the request changes anything (on SQLite a reader must not hold the write lock,
        and a snapshot reader cannot safely start writing later). ``rerun`` says the caller runs the whole
        block again after a retryable ``DatabaseUnavailable`` (a view under ``call_with_retries``), which lets a
        SQLite writer read its organization before taking the write lock (``first_write``). A scope inside a
        scope joins the outer one."""
        if _SCOPE.get() is not None:
            yield
            return
        scope = _Scope(self, write, rerun)
        token = _SCOPE.set(scope)
        with storage_errors():
            try:
                yield
                if scope.store is not None:
                    self._commit(scope.store)
            finally:
                _SCOPE.reset(token)
                if scope.store is not None:
                    scope.store.close()
                if scope.session is not None:
                    scope.session.close()
                    self._leave_queue(scope.session)
        self._run_after_commit(scope.after_commit)
        self._upkeep_if_due()

    @contextmanager
    def transaction(self, *, write: bool = True, savepoint: bool = False) -> Iterator[Store]:
        """A unit of work: commits when the block ends, rolls everything back if it raises.

        Inside a ``scope()`` it joins the scope's transaction instead, and a failure rolls that back; with
        ``savepoint`` a failure rolls back only this block's work (a refused sign-in keeps the replay-cache
        entry of the assertion it refused, written earlier in the request)."""
        scope = _SCOPE.get()
        if scope is not None and scope.db is self:
            store = self._scope_store(scope, write)
            if savepoint:
                with self._savepoint(store) as inner:
                    yield inner
                return
            try:
                yield store
            except BaseException as exc:
                self._rollback_scope(scope)
                _raise_translated(exc)
                raise
            return
        with storage_errors():
            session = self._sessions() if write else None
            opened: Store | None = None
            try:
                store = opened = self._begin(session) if session is not None else self._begin_reader()
                try:
                    yield store
                except BaseException as exc:
                    if session is not None:
                        session.rollback()
                    _raise_translated(exc)
                    raise
                self._commit(store)
            finally:
                if opened is not None:
                    opened.close()
                if session is not None:
                    session.close()
                    self._leave_queue(session)
        self._run_after_commit(store.after_commit_work)
        self._upkeep_if_due()

    @contextmanager
    def _savepoint(self, store: Store) -> Iterator[Store]:
        nested = store.session.begin_nested()
        mark = store.mark()
        try:
            yield store
            nested.commit()
        except BaseException as exc:
            nested.rollback()
            store.rewind(mark)
            store.forget_locks()
            _raise_translated(exc)
            raise

    def _scope_store(self, scope: _Scope, write: bool) -> Store:
        if scope.store is None:
            if scope.write or write:
                scope.session = scope.session or self._sessions()
                scope.store = self._begin(scope.session, rerun=scope.rerun)
            else:
                scope.store = self._begin_reader()
        return scope.store

    def _rollback_scope(self, scope: _Scope) -> None:
        if scope.store is not None:
            if scope.store.reading:
                scope.store.close()
            elif scope.session is not None:
                scope.session.rollback()
                self._leave_queue(scope.session)
            scope.after_commit.clear()
        scope.store = None

    def _leave_queue(self, session: Session) -> None:
        place = session.info.pop(QUEUED, None)
        if place is None:
            return
        WriteQueue.release(place)
        if next(self._writes) % UPKEEP_EVERY == 0:
            _UPKEEP_DUE.set(True)

    def _upkeep_if_due(self) -> None:
        if _UPKEEP_DUE.get() and _SCOPE.get() is None:
            _UPKEEP_DUE.set(False)
            self._upkeep()

    def _upkeep(self) -> None:
        """SQLite's housekeeping, kept out of the write queue's hot path: members noted for the search index
        are indexed in one batch (``gateway.storage.search_tables``), then a passive WAL checkpoint runs
        (``gateway.storage.checkpoints``). It has an engine of its own (one connection), so a request's
        statements are its own; it never fails the request that happens to run it. One thread of a process runs
        it at a time; the checkpoint comes with every ``CHECKPOINT_EVERY``-th run."""
        with self._upkeep_lock:
            if self._upkeep_engine is None:
                self._upkeep_engine = _make_engine(self.url, 1, 0)
            place = self._writers.acquire() if self._writers is not None else None
            try:
                with self._upkeep_engine.begin() as conn:
                    index_pending_members(conn)
            except Exception:
                log.warning("indexing members for the search skipped", exc_info=True)
            finally:
                WriteQueue.release(place)
            if next(self._upkeeps) % CHECKPOINT_EVERY == 0:
                passive_checkpoint(self._upkeep_engine)

    def _begin(self, session: Session, *, rerun: bool = False) -> Store:
        """A writer's unit of work, on ``session``."""
        deferred = self._writers is not None
        token = _BEGIN_WRITE.set(not deferred)
        try:
            session.begin()
            conn = session.connection()
        finally:
            _BEGIN_WRITE.reset(token)
        store = Store(session, write=True, after_commit=self._after_commit_sink())
        if deferred:
            first_write = FirstWrite(self._writers, session, conn, store.check_reads_before_lock)  # type: ignore[arg-type]
            store.defer_write_lock(first_write, org_reads_checked=rerun)
        return store

    def _begin_reader(self) -> Store:
        """A reader's unit of work, on a connection of its own (no ORM session unless it asks for one).

        A PostgreSQL reader runs each statement in its own snapshot (autocommit), sparing the BEGIN and COMMIT
        round trips of a lookup; it locks nothing and writes nothing, so no statement of it needs another's
        snapshot. (SQLite readers send no BEGIN either: see the "begin" hook.)"""
        conn = self.engine.connect()
        token = _BEGIN_WRITE.set(False)
        try:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.begin()
        except BaseException:
            conn.close()
            raise
        finally:
            _BEGIN_WRITE.reset(token)
        return Store(
            write=False, after_commit=self._after_commit_sink(), reader=conn, sessions=self._sessions
        )

    def _after_commit_sink(self) -> list[Callable[[Store], None]]:
        scope = _SCOPE.get()
        return scope.after_commit if scope is not None and scope.db is self else []

    def _commit(self, store: Store) -> None:
        """Commit, unless a reader has nothing to commit: its statements ran in autocommit (see
        ``_begin_reader``), so closing its connection is all that is left, and a commit would only cost time on
        each lookup. A reader that wrote after all (rows waiting for the commit, changes its session holds) has
        them flushed in autocommit and its session's commit noted (``call_with_retries`` runs nothing again
        after a commit)."""
        try:
            wrote = store.run_before_commit()
            held = store.has_session and (store.session.new or store.session.dirty or store.session.deleted)
            if store.write or wrote or held:
                store.session.commit()
        except BaseException as exc:
            if store.has_session:
                store.session.rollback()
            _raise_translated(exc)
            raise

    def _run_after_commit(self, work: list[Callable[[Store], None]]) -> None:
        """Writes a read-only request asked for (recording a token's last use), each in its own transaction."""
        while work:
            job = work.pop(0)
            with self.transaction() as tx:
                job(tx)

    # -- administration ------------------------------------------------------------------------------------
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def create_all(self) -> None:
        """Create tables straight from the models (tests); deployments use ``gateway db upgrade``."""
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._upkeep_engine is not None:
            self._upkeep_engine.dispose()
