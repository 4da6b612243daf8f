"""The storage contract the services use: a few documented methods, every one scoped by organization.

A ``Store`` wraps one SQLAlchemy session inside one transaction. The only lookups that are not scoped by
organization are those whose key *is* what identifies the organization (a token hash, an org slug, a verified
email domain) and the cross-organization email check that enforces "one account, one organization".
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from gateway.domain import model as m
from gateway.domain.errors import Conflict, DomainError
from gateway.storage import count_tables as counts
from gateway.storage import hot_statements as hot
from gateway.storage import prepared
from gateway.storage.constraints import domain_error_for
from gateway.storage.errors import DatabaseUnavailable, Kind
from gateway.storage.first_write import FirstWrite, needs_write_lock
from gateway.storage.keysets import AUDIT_ORDER, INVITATION_ORDER, MEMBER_ORDER, Keyset
from gateway.storage.outbox_tables import outbox_events
from gateway.storage.search_tables import condition as search_condition
from gateway.storage.tables import (
    audit_events,
    domains,
    members,
    organizations,
    scim_tokens,
    sso_connections,
)

T = TypeVar("T")


SHARE = 1
"""Lock strength for changes that may run side by side (joins, edits): PostgreSQL ``FOR SHARE``."""
EXCLUSIVE = 2
"""Lock strength for changes nothing may run beside (a mode switch): PostgreSQL ``FOR UPDATE``."""

_AUDIT = "audit.pending"
_AT_COMMIT = "rows.at_commit"
_NUMBERED = "events.numbered_at_commit"
_UPDATED_AT_COMMIT = "updates.at_commit"
_AUDIT_COLUMNS = (
    "org_id", "at", "actor_type", "actor_id", "actor_label", "action", "target_type", "target_id", "ip",
    "request_id", "details",
)  # fmt: skip

_ADMIN_CHANGES = 0x61646D6E
"""First key of the PostgreSQL advisory lock that serializes changes able to remove an org's last Admin."""


@functools.cache
def _columns(cls: type) -> tuple[sa.Table, tuple[str, ...], Callable[[object], tuple[Any, ...]]]:
    """The table a mapped class is mapped to, its column keys in order, and a getter of an object's values for
    them (``sa.inspect`` and a loop over the columns, per object, cost a SCIM create about 1%)."""
    table = sa.inspect(cls).local_table
    keys = tuple(c.key for c in table.columns)
    getter = operator.attrgetter(*keys)
    return table, keys, getter if len(keys) > 1 else lambda obj: (getter(obj),)  # type: ignore[return-value]


def table_of(obj: object) -> sa.Table:
    """The table ``obj``'s mapped class is mapped to."""
    return _columns(type(obj))[0]


def _column_values(obj: object) -> tuple[Any, ...]:
    """A mapped object's values in its table's column order (as a plain SELECT of the table returns them)."""
    return _columns(type(obj))[2](obj)


def row_of(obj: object) -> dict[str, Any]:
    """A mapped object's values, one per column of its table (what a prebuilt INSERT binds)."""
    _, keys, values = _columns(type(obj))
    return dict(zip(keys, values(obj), strict=True))


def email_lock_key(org_id: str, email: str) -> str:
    """What PostgreSQL's join lock of ``email`` in ``org_id`` is taken on (``hot.LOCK_EMAIL``)."""
    return f"{org_id}:{email}"


def row_by_column(table: sa.Table, row: Sequence[Any]) -> dict[str, Any]:
    """``row`` (the values of ``table``'s columns, in the table's order, as a plain read gives them) by column."""
    return dict(zip(table.c.keys(), row, strict=True))


def loaded(cls: type[T], values: Mapping[str, Any]) -> T:
    """An object of the mapped ``cls`` holding ``values`` (one per column, read as a plain row), outside any
    session: built as the ORM builds an object it loads (no constructor, no attribute events), at a seventh of
    the cost of calling the constructor."""
    mapper = sa.inspect(cls)
    if not mapper.configured:
        configure_mappers()  # what the ORM's first query does; reading an attribute needs it
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    return obj  # type: ignore[no-any-return]


@functools.cache
def _field_defaults(
    cls: type,
) -> tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], frozenset[str]]:
    """The dataclass ``cls``'s plain defaults, its default factories, and the fields its constructor needs."""
    plain: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    required: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            plain[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            factories.append((f.name, f.default_factory))
        elif f.init:
            required.add(f.name)
    return plain, tuple(factories), frozenset(required)


def fresh(cls: type[T], **values: Any) -> T:
    """A new object of the mapped dataclass ``cls``, holding what ``cls(**values)`` would hold, built as
    ``loaded`` builds one: the mapped constructor fires an attribute event per field, which made building a
    member cost several times its row's INSERT. For an object written at once (``Store.insert_new``,
    ``Store.insert_object_at_commit``) or never held by a session (rows described for the outbox)."""
    plain, factories, required = _field_defaults(cls)
    if not required <= values.keys():
        raise TypeError(f"{cls.__name__} needs {', '.join(sorted(required - values.keys()))}")
    merged = {**plain, **{name: make() for name, make in factories if name not in values}, **values}
    return loaded(cls, merged)


class Store:
    def __init__(
        self,
        session: Session | None = None,
        *,
        write: bool = True,
        after_commit: list[Callable[[Store], None]] | None = None,
        reader: sa.Connection | None = None,
        sessions: Callable[..., Session] | None = None,
    ) -> None:
        """A writer's store runs on ``session``. A reader's runs on its own connection, ``reader``: its hot
        reads (``read``) need no ORM session, whose life cost a SCIM lookup more than its SQL; one is made
        from ``sessions`` on that connection when a query of the ORM asks for it (``session``)."""
        if session is None and (reader is None or sessions is None):
            raise TypeError("a store needs a session, or a reader's connection and a session factory")
        self._session = session
        self._reader = reader
        self._sessions = sessions
        bind = reader if reader is not None else session.get_bind()  # type: ignore[union-attr]
        self.dialect: str = bind.dialect.name
        self.write = write
        self.after_commit_work: list[Callable[[Store], None]] = (
            after_commit if after_commit is not None else []
        )
        self.info: dict[str, Any] = {}
        self._before_commit: dict[str, Callable[[], None]] = {}
        self._org_locks: dict[str, int] = {}
        self._orgs: dict[str, m.Organization] = {}
        self._locked_members: set[str] = set()
        self._emails_locked: set[str] = set()
        self._admin_changes_locked: set[str] = set()
        self._first_write: FirstWrite | None = None
        self._org_reads_checked = False
        self._orgs_read_shared: dict[str, tuple[Any, ...]] = {}
        self._folding_org_check: str | None = None
        self._read_before_lock: set[Any] = set()
        self._members_read_before_lock: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = []
        self._new_before_lock: list[tuple[sa.Table, dict[str, Any]]] = []
        self._conflict_names: dict[str, DomainError] = {}
        self._connection_of: object | None = None
        self._connection: sa.Connection | None = None

    @property
    def session(self) -> Session:
        """The ORM session; a reader's is made on its connection the first time it is asked for, joining the
        connection's transaction (it neither commits nor ends it: ``close`` does)."""
        if self._session is None:
            self._session = self._sessions(bind=self._reader)  # type: ignore[misc]
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    @property
    def reading(self) -> bool:
        """A reader's store, on a connection of its own."""
        return self._reader is not None

    def close(self) -> None:
        """A reader's store: end the session it made, if any, and give its connection back to the pool. (A
        writer's session belongs to the ``Database`` that began it, which ends it.)"""
        if self._reader is None:
            return
        if self._session is not None:
            self._session.close()
        self._reader.close()

    def forget_locks(self) -> None:
        """After a rollback to a savepoint: the locks taken since it are gone, so take them again if needed."""
        self._org_locks.clear()
        self._emails_locked.clear()
        self._locked_members.clear()
        self._admin_changes_locked.clear()

    # -- SQLite's write lock (``gateway.storage.first_write``) ----------------------------------------------
    def defer_write_lock(self, first_write: FirstWrite, *, org_reads_checked: bool) -> None:
        """This SQLite writer takes the write lock at its first write (``first_write``), not at its start;
        ``org_reads_checked``: an organization's shared lock is a read checked when the write lock is taken
        (the caller runs the request again if the row changed), else it takes the write lock."""
        self._first_write = first_write
        self._org_reads_checked = org_reads_checked

    @property
    def _shared_org_read_pending(self) -> bool:
        """A SQLite writer before its write lock, whose organization reads are checked when it takes it."""
        return self._org_reads_checked and self._first_write is not None and not self._first_write.taken

    def serialize(self) -> None:
        """From here on, run alone among writers: a SQLite writer that has not taken the write lock yet takes it
        (PostgreSQL's row and advisory locks are taken by the statements that need them)."""
        if self._first_write is not None:
            self._first_write.take()

    def note_org_read_shared(self, org: m.Organization) -> None:
        """A SQLite writer read ``org`` under what PostgreSQL takes as the row's shared lock, before its write
        lock: the row is read again when the lock is taken (``check_reads_before_lock``)."""
        self._orgs_read_shared.setdefault(org.id, _column_values(org))

    def check_reads_before_lock(self) -> None:
        """Just after the write lock was taken: what was read before it and is now held to be locked must not
        have changed meanwhile, else the request runs again from the start (it committed nothing). The
        organization whose check the caller folds into its own next query (``_folding_org_check``) is left
        for ``_check_org_row``. Then the new rows held back until the lock (``insert_new``) are written."""
        self._read_before_lock = set(self.session.identity_map.keys())
        while self._members_read_before_lock:
            self._check_member_read(*self._members_read_before_lock.pop())
        for org_id in list(self._orgs_read_shared):
            if org_id != self._folding_org_check:
                now = self.read(hot.org_row(), {"org_id": org_id})
                self._check_org_row(org_id, now[0] if now else None)
        self._write_new_rows()

    def _check_member_read(self, org_id: str, params: dict[str, Any], seen: tuple[Any, ...]) -> None:
        """``member_block_and_domain`` read again under the write lock, which must find the row it found before
        it; the organization's row, when it waits for its check too, is checked with the same query."""
        folded = org_id in self._orgs_read_shared and org_id != self._folding_org_check
        (now,) = self.read(hot.member_block_and_domain(with_org=folded), params)
        if folded:
            org_row = now[len(seen) :]
            self._check_org_row(org_id, None if org_row[0] is None else org_row)
        if now[: len(seen)] != seen:
            raise DatabaseUnavailable(Kind.SERIALIZATION, retryable=True)
        if seen[0] is not None:  # the member's copy is current: it counts as read under the lock
            self._read_before_lock.discard(identity_key(m.Member, seen[0]))

    def _write_new_rows(self) -> None:
        """The rows ``insert_new`` held back until the write lock, in the order they were given."""
        rows, self._new_before_lock = self._new_before_lock, []
        try:
            for table, row in rows:
                self.send(hot.insert_into(table), row)
        except IntegrityError as exc:
            error = domain_error_for(exc) or Conflict("This change conflicts with existing data.")
            named = (
                self._conflict_names.get(error.details.get("field", ""))
                if isinstance(error, Conflict)
                else None
            )
            raise named or error from exc

    def name_conflicts(self, field: str, error: DomainError) -> None:
        """Raise ``error`` for a uniqueness conflict on ``field`` met by the rows ``insert_new`` held back until
        the write lock, whenever they are written (at the commit, the caller's ``try`` is long gone)."""
        self._conflict_names[field] = error

    def _check_org_row(self, org_id: str, now: Sequence[Any] | None) -> None:
        """The organization's row as read under the write lock (``None``: gone) against what was read before."""
        seen = self._orgs_read_shared.pop(org_id)
        if now is None or tuple(now) != seen:
            raise DatabaseUnavailable(Kind.SERIALIZATION, retryable=True)
        self._org_locks[org_id] = max(SHARE, self._org_locks.get(org_id, 0))

    def _stale_after_lock(self, cls: type, obj_id: str) -> bool:
        """Whether the session's copy of an object may predate SQLite's write lock (read before it was taken)."""
        return identity_key(cls, obj_id) in self._read_before_lock

    # -- transaction hooks ---------------------------------------------------------------------------------
    def before_commit(self, key: str, work: Callable[[], None]) -> None:
        """Run ``work`` once, just before this transaction commits (e.g. write the buffered outbox rows)."""
        self._before_commit.setdefault(key, work)

    def run_before_commit(self) -> bool:
        """Run the jobs and write the rows waiting for the commit; whether there were any."""
        waited = bool(self._before_commit) or bool(self.info.get(_AT_COMMIT))
        while self._before_commit:
            key = next(iter(self._before_commit))
            self._before_commit.pop(key)()
        self._write_rows_at_commit()
        if self._new_before_lock:  # nothing above sent a statement, which would have written them first
            self.serialize()
        return waited

    def insert_at_commit(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (all with the same keys) just before this transaction commits, together with the
        other rows waiting so (audit, events, the SCIM request log): on PostgreSQL every table's rows in one
        statement (data-modifying CTEs, one round trip), on SQLite one INSERT per table. For rows nothing in
        the transaction reads back."""
        for row in rows:
            self.buffer(_AT_COMMIT, (table, row))

    def number_at_commit(
        self, org_id: str, events: list[dict[str, Any]], then: Callable[[int, bool], None]
    ) -> None:
        """PostgreSQL: insert ``org_id``'s outbox ``events`` (rows without ``seq``) with the rows waiting for the
        commit, numbered in that same statement (``hot.numbered_chain``); then ``then(last, has_endpoints)``
        runs, still before the commit, with the last number taken and whether the organization has a webhook
        endpoint. One organization's events per transaction."""
        if _NUMBERED in self.info:
            raise ValueError("A transaction numbers the events of one organization at its commit.")
        self.info[_NUMBERED] = (org_id, events, then)

    def update_at_commit(self, statement: sa.Update, values: Mapping[str, Any]) -> None:
        """PostgreSQL: run the prebuilt UPDATE ``statement`` with ``values`` in the statement that writes the rows
        waiting for the commit (``insert_at_commit``; a data-modifying CTE, no round trip of its own), or alone
        if none wait. SQLite: now. For a change nothing in the transaction reads back."""
        if self.dialect != "postgresql":
            self.send(statement, values)
            return
        self.buffer(_UPDATED_AT_COMMIT, (statement, values))

    def _write_rows_at_commit(self) -> None:
        waiting: list[tuple[sa.Table, dict[str, Any]]] = self.info.pop(_AT_COMMIT, [])
        updates: list[tuple[sa.Update, Mapping[str, Any]]] = self.info.pop(_UPDATED_AT_COMMIT, [])
        by_table: dict[sa.Table, list[dict[str, Any]]] = {}
        for table, row in waiting:
            by_table.setdefault(table, []).append(row)
        parts = list(by_table.items())
        numbered = self.info.pop(_NUMBERED, None)
        rows = sum(len(rows) for rows in by_table.values()) + (len(numbered[1]) if numbered else 0)
        if updates and not ((parts or numbered) and rows <= hot.CHAIN_ROWS):
            for statement, values in updates:  # nothing to go with, or a batch built for itself
                self.send(statement, values)
            updates = []
        if numbered is not None:
            self._write_numbered(*numbered, by_table, updates)
            return
        if (len(by_table) > 1 or updates) and self.dialect == "postgresql":
            self.insert_chain(parts, updates)
            return
        for table, rows in by_table.items():
            self.send(hot.insert_rows(table, tuple(rows[0])), rows[0] if len(rows) == 1 else rows)

    def _write_numbered(
        self,
        org_id: str,
        events: list[dict[str, Any]],
        then: Callable[[int, bool], None],
        by_table: dict[sa.Table, list[dict[str, Any]]],
        updates: hot.Updates,
    ) -> None:
        parts = list(by_table.items())
        if len(events) + sum(len(rows) for rows in by_table.values()) <= hot.CHAIN_ROWS:
            ((last, has_endpoints),) = self.fetch(*hot.numbered_chain(org_id, events, parts, updates))
        else:
            # A large batch: number first, then send the rows as ``insert_chain`` builds them for themselves.
            ((last, has_endpoints),) = self.fetch(
                hot.reserve_seqs(self.dialect),
                {"org_id": org_id, "count": len(events), "endpoints_org_id": org_id},
            )
            first = last - len(events) + 1
            rows = [
                {**row, "seq": seq, "payload": {**row["payload"], "sequence": seq}}
                for seq, row in enumerate(events, first)
            ]
            self.insert_chain([*parts, (outbox_events, rows)])
        then(int(last), bool(has_endpoints))

    def insert_object_at_commit(self, obj: object) -> None:
        """``insert_at_commit`` of a new mapped object's row (the object itself stays out of the session)."""
        self.insert_at_commit(table_of(obj), [row_of(obj)])

    def buffer(self, key: str, item: object) -> None:
        """Keep ``item`` in the named buffer a ``before_commit`` job writes (audit rows, outbox events)."""
        self.info.setdefault(key, []).append(item)

    def mark(self) -> dict[str, int]:
        """Where the buffers stand, to ``rewind`` to when a savepoint rolls back."""
        return {key: len(items) for key, items in self.info.items() if isinstance(items, list)}

    def rewind(self, mark: dict[str, int]) -> None:
        for key, items in self.info.items():
            if isinstance(items, list):
                del items[mark.get(key, 0) :]

    def add_audit(self, event: m.AuditEvent) -> None:
        """Record an audit event; the rows of one transaction are written together when it commits (one
        multi-row insert, in the order they happened)."""
        self.buffer(_AUDIT, event)
        self.before_commit(_AUDIT, self._write_audit)

    def _write_audit(self) -> None:
        events: list[m.AuditEvent] = self.info.pop(_AUDIT, [])
        if events:
            self.insert_at_commit(
                audit_events, [{name: getattr(e, name) for name in _AUDIT_COLUMNS} for e in events]
            )

    def defer(self, work: Callable[[Store], None]) -> None:
        """Run ``work`` in a transaction of its own once this one has committed (a read-only request that
        wants to record something, like a credential's last use, without taking the write lock)."""
        self.after_commit_work.append(work)

    # -- generic -------------------------------------------------------------------------------------------
    def add(self, obj: object) -> None:
        self.session.add(obj)

    def delete(self, obj: object) -> None:
        self.session.delete(obj)

    def refresh(self, obj: object, *, lock: bool = False) -> None:
        """Re-read ``obj`` from the database (after taking a lock, to see what committed meanwhile); ``lock``
        also locks its row, so that two changes of one object (two accepts of one invitation) take turns."""
        # On SQLite the locking read takes the write lock (``first_write``); FOR UPDATE compiles to nothing.
        self.session.refresh(obj, with_for_update=True if lock else None)

    def flush(self, conflict: str | None = None) -> None:
        """Write pending changes now; a uniqueness violation becomes ``Conflict(conflict)`` or, without a
        message, the error registered for its constraint (``gateway.storage.constraints``).

        The failed write rolls the whole transaction back, so the caller lets the ``Conflict`` propagate.
        (A savepoint cannot narrow this: ``begin_nested`` itself flushes pending changes before the
        SAVEPOINT is taken, so the violating write would still happen outside it.)"""
        try:
            if self._new_before_lock:
                self.serialize()
            self.session.flush()
        except IntegrityError as exc:
            if conflict is not None:
                raise Conflict(conflict) from exc
            raise domain_error_for(exc) or Conflict("This change conflicts with existing data.") from exc

    def send(self, statement: sa.Executable, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Run a hot write (one built once, ``hot_statements``) with ``values``: compiled once and sent as
        driver SQL (``gateway.storage.prepared``). Driver SQL bypasses the engine's ``before_execute`` hook, so
        a SQLite writer takes its write lock here."""
        prepared.run(self._hot_connection(statement), statement, values)

    def read(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of a hot SELECT (one built once, ``hot_statements``) as plain tuples of values typed as
        SQLAlchemy types them (``gateway.storage.prepared.read``). A locking read takes SQLite's write lock
        first, as the engine's ``before_execute`` hook would."""
        return prepared.read(self._hot_connection(statement), statement, params)

    def fetch(self, statement: sa.Executable, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """``send`` of a hot write with ``RETURNING``: the rows it returns, holding the driver's values."""
        return prepared.fetch(self._hot_connection(statement), statement, values)

    def _hot_connection(self, statement: sa.Executable) -> sa.Connection:
        """The connection a hot statement runs on, SQLite's write lock taken first when the statement needs it
        (driver SQL bypasses the engine's ``before_execute`` hook, which would take it)."""
        if self._reader is not None:
            return self._reader
        if self._new_before_lock or needs_write_lock(statement):
            self.serialize()
        session = self.session
        transaction = session.get_nested_transaction() or session.get_transaction()
        if self._connection is None or transaction is not self._connection_of or not transaction.is_active:
            # ``Session.connection`` finds the connection through the session's transaction on each call (3% of
            # a SCIM create); it is the same until that transaction ends. A savepoint's is asked for (the first
            # call sends its SAVEPOINT), and so is one that a failure deactivated, so that it raises.
            self._connection = session.connection()
            self._connection_of = session.get_nested_transaction() or session.get_transaction()
        return self._connection

    def insert_chain(
        self, parts: list[tuple[sa.Table, list[dict[str, Any]]]], updates: hot.Updates = ()
    ) -> None:
        """PostgreSQL: ``hot.insert_chain`` of ``parts`` (and ``updates``), sent as a hot statement when it has a
        known shape."""
        statement, values = hot.insert_chain(parts, updates)
        if hot.chain_fits(parts):
            self.send(statement, values)
        else:
            self.session.execute(statement)  # a large batch, built for itself with its values

    def insert_new(self, *objs: object) -> None:
        """Insert new objects at once (no unit of work), then hold them in the session as loaded objects, so
        later changes to them in this transaction are written as usual. One prebuilt INSERT each on SQLite; one
        statement for them all on PostgreSQL (a foreign key between them is checked at its end). A uniqueness
        violation is raised as ``flush`` raises it.

        A SQLite writer that has not taken its write lock and checks what it read before it once it does (a SCIM
        request, ``first_write``) holds the rows back until then: the lock is taken by the next statement of any
        kind, a ``flush`` or the commit, and the rows go first, so nothing reads the tables without them, while
        what the request does in between (its audit, its response) is done outside the lock."""
        rows = [(table_of(obj), row_of(obj)) for obj in objs]
        if self._shared_org_read_pending:
            assert self._first_write is not None
            self._new_before_lock.extend(rows)
            self._first_write.holds_rows = True
            rows = []
        try:
            if len(rows) > 1 and self.dialect == "postgresql":
                self.insert_chain([(table, [row]) for table, row in rows])
            else:
                for table, row in rows:
                    self.send(hot.insert_into(table), row)
        except IntegrityError as exc:
            raise domain_error_for(exc) or Conflict("This change conflicts with existing data.") from exc
        for obj in objs:
            make_transient_to_detached(obj)
            self.session.add(obj)

    def get(self, cls: type[T], org_id: str, obj_id: str) -> T | None:
        obj = self._by_id(cls, obj_id)
        if obj is None or obj.org_id != org_id:  # type: ignore[attr-defined]
            return None
        return obj

    def _by_id(self, cls: type[T], obj_id: str) -> T | None:
        """``Session.get`` with a prebuilt statement: ``Session.get`` builds its SELECT, and its cache key, on
        every call. A copy the session holds as it is (not expired, not being deleted) is returned as is."""
        held = self._session_copy(cls, obj_id)
        if held is None:
            return self.session.scalars(hot.by_id(cls), {"id": obj_id}).one_or_none()
        return held

    def _session_copy(self, cls: type[T], obj_id: str) -> T | None:
        """The session's object of ``cls`` with this id, current (one expired or being deleted is asked of
        ``Session.get``); ``None`` when the session holds none."""
        held = self.session.identity_map.get(identity_key(cls, obj_id))
        if held is None:
            return None
        if sa.inspect(held).expired_attributes or held in self.session.deleted:
            return self.session.get(cls, obj_id)
        return held  # type: ignore[no-any-return]

    def _page(
        self, stmt: sa.Select, offset: int, limit: int, total: Callable[[], int] | None = None
    ) -> tuple[list[Any], int]:
        """One page and the total. A page shorter than ``limit`` that has rows (or is the first) ends the
        list, so its total is ``offset + len(rows)``; otherwise ``total`` tells it (a whole list's kept size,
        ``gateway.storage.count_tables``) or a ``count(*)`` runs."""
        rows = list(self.session.scalars(stmt.offset(offset).limit(limit)).all())
        if len(rows) < limit and (rows or offset == 0):
            return rows, offset + len(rows)
        if total is not None:
            return rows, total()
        counted = self.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
        return rows, int(counted or 0)

    def _keyset_page(
        self,
        stmt: sa.Select,
        after: tuple[Any, ...] | None,
        offset: int,
        limit: int,
        keyset: Keyset,
        total: Callable[[], int] | None = None,
    ) -> tuple[list[Any], int | None]:
        """``after`` given: the ``limit`` rows that follow that position in list order, without a total
        (a range scan of the index that serves the order, however deep); otherwise ``_page``."""
        if after is None:
            return self._page(stmt, offset, limit, total)
        return list(self.session.scalars(stmt.where(keyset.follows(after)).limit(limit)).all()), None

    # -- organizations -------------------------------------------------------------------------------------
    def org(
        self, org_id: str, *, lock: bool | int = False, email: str | None = None
    ) -> m.Organization | None:
        """The organization; ``lock`` (``SHARE`` or ``EXCLUSIVE``; ``True`` is exclusive) takes its row lock
        so mode checks and writes happen atomically. A lock already held by this transaction is not taken
        again, and an unlocked read comes from the transaction's identity map when it can. ``email`` (with
        ``lock``): the caller takes that email's join lock next (``lock_email``); on PostgreSQL the statement
        that locks the organization takes it too, so ``lock_email`` then sends nothing."""
        strength = EXCLUSIVE if lock is True else int(lock)
        if not strength or self._org_locks.get(org_id, 0) >= strength:
            return self._keep(self._orgs.get(org_id) or self._by_id(m.Organization, org_id))
        if self.dialect == "sqlite":
            return self._org_sqlite(org_id, strength)
        if email is None:
            org = self._keep(self._read_org(hot.org_row_locked(strength), org_id))
        else:
            key = email_lock_key(org_id, email)
            stmt = hot.org_row_locked(strength, email_lock=True)
            org = self._keep(self._read_org(stmt, org_id, {"email_key": key}))
            self._emails_locked.add(key)
        if org is not None:
            self._org_locks[org_id] = strength
        return org

    def _org_sqlite(self, org_id: str, strength: int) -> m.Organization | None:
        """SQLite's ``org``: a shared lock before the write lock is noted and checked when the write lock is
        taken (``first_write``); an exclusive one takes the write lock now. Under the write lock the row read
        is current, and a copy read before it is read again."""
        if strength == SHARE and self._shared_org_read_pending:
            org = self._keep(self._orgs.get(org_id) or self._by_id(m.Organization, org_id))
            if org is not None:
                self.note_org_read_shared(org)
            return org
        self.serialize()
        if org_id in self._orgs and not self._stale_after_lock(m.Organization, org_id):
            org = self._orgs[org_id]
        else:
            org = self._keep(self._read_org(hot.org_row(), org_id))
        if org is not None:
            self._org_locks[org_id] = strength
        return org

    def _read_org(
        self, stmt: sa.Select[Any], org_id: str, params: Mapping[str, Any] | None = None
    ) -> m.Organization | None:
        """The organization read over what the session holds (a locking read, or SQLite's read under the write
        lock), as a plain row: loading it as an ORM entity with ``populate_existing`` cost a sign-in more
        Python than the statement itself. ``params``: what else ``stmt`` binds."""
        self._autoflush()
        found = self.read(stmt, {"org_id": org_id, **(params or {})})
        if not found:
            return None
        row = found[0]
        return self._refreshed(m.Organization, row_by_column(organizations, row[: len(organizations.c)]))

    def _autoflush(self) -> None:
        """Write pending ORM changes before a plain-row read, as the ORM query it replaces did first (a no-op
        with nothing pending)."""
        if self.session.autoflush:
            self.session.flush()

    def _refreshed(self, cls: type[T], values: dict[str, Any]) -> T:
        """The object of ``cls`` whose row was just read as ``values``, held by the session as a query with
        ``populate_existing`` would hold it: the session's own copy brought up to the row, else one built from
        the row and attached (later changes to it are written as usual)."""
        held = self.session.identity_map.get(identity_key(cls, values["id"]))
        if held is None:
            return self._attached(cls, values)
        for key, value in values.items():
            set_committed_value(held, key, value)
        return held  # type: ignore[no-any-return]

    def _keep(self, org: m.Organization | None) -> m.Organization | None:
        """Hold the organization for the rest of the transaction (the session's identity map holds objects
        only as long as someone else does), so the steps of one request read it once."""
        if org is not None:
            self._orgs[org.id] = org
        return org

    def note_org_locked(self, org_id: str, strength: int) -> None:
        """Record a lock on the organization row taken by a query of the caller's (e.g. with its token)."""
        self._org_locks[org_id] = max(strength, self._org_locks.get(org_id, 0))

    def note_sign_in_locks(self, row: Sequence[Any], email: str) -> m.Organization:
        """PostgreSQL: a statement of the caller's read the organization's row (``row`` starts with its columns)
        taking what ``org(lock=SHARE, email=email)`` takes (``hot.org_row_locked(SHARE, email_lock=True)``), so
        the sign-in's own ``org`` and ``lock_email`` that follow send nothing. ``email`` as normalized."""
        org = self._refreshed(m.Organization, row_by_column(organizations, row[: len(organizations.c)]))
        self._keep(org)
        self.note_org_locked(org.id, SHARE)
        self._emails_locked.add(email_lock_key(org.id, email))
        return org

    def member_for_update(self, org_id: str, member_id: str) -> m.Member | None:
        """The member, its row locked for the rest of the transaction (concurrent edits of one member take
        turns; edits of different members run side by side)."""
        if member_id in self._locked_members or self._current_under_lock(m.Member, member_id):
            return self.get(m.Member, org_id, member_id)
        params = {"org_id": org_id, "member_id": member_id}
        member = self.session.scalars(hot.member_locked(shared=False), params).one_or_none()
        if member is not None:
            self._locked_members.add(member_id)
        return member

    def member_for_share(self, org_id: str, member_id: str) -> m.Member | None:
        """The member, its row locked shared: a change that depends on the member staying as it is (a resource
        they create, a project they join) waits for a removal in flight, and a removal waits for it."""
        if member_id in self._locked_members or self._current_under_lock(m.Member, member_id):
            return self.get(m.Member, org_id, member_id)
        params = {"org_id": org_id, "member_id": member_id}
        return self.session.scalars(hot.member_locked(shared=True), params).one_or_none()

    def _current_under_lock(self, cls: type, obj_id: str) -> bool:
        """SQLite: take the write lock; then whether the session's copy of the object (if any) is current, so
        the locking read (FOR UPDATE compiles to nothing there) can be spared."""
        if self.dialect != "sqlite":
            return False
        self.serialize()
        return not self._stale_after_lock(cls, obj_id)

    def lock_email(self, org_id: str, email: str) -> None:
        """Serialize the joins of one email address in one organization (a SCIM push racing the person's first
        SSO sign-in): on PostgreSQL a transaction-scoped advisory lock, taken before the member is looked up,
        so the second sees the first's member instead of colliding with it. (SQLite: the write lock.)"""
        if self.dialect != "postgresql":
            self.serialize()
            return
        key = email_lock_key(org_id, email)
        if key not in self._emails_locked:
            self.send(hot.LOCK_EMAIL, {"key": key})
            self._emails_locked.add(key)

    def note_member_locked(self, member_id: str) -> None:
        """A member this transaction inserted: nobody else sees the row before commit, so it counts as locked."""
        self._locked_members.add(member_id)

    def lock_admin_changes(self, org_id: str) -> None:
        """Serialize the changes that can leave the organization without an Admin (demoting, suspending,
        removing one): on PostgreSQL a transaction-scoped advisory lock per organization, so counting the
        Admins and changing one cannot interleave with another such change. Promotions and joins, which only
        add Admins, do not take it. (SQLite: the write lock.)"""
        if self.dialect != "postgresql":
            self.serialize()
            return
        if org_id in self._admin_changes_locked:
            return
        self.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:kind, hashtext(:org_id))"),
            {"kind": _ADMIN_CHANGES, "org_id": org_id},
        )
        self._admin_changes_locked.add(org_id)

    def org_by_slug(self, slug: str) -> m.Organization | None:
        return self.session.scalars(
            sa.select(m.Organization).where(m.Organization.slug == slug)
        ).one_or_none()

    def orgs(self) -> Sequence[m.Organization]:
        return self.session.scalars(sa.select(m.Organization).order_by(m.Organization.created_at)).all()

    def domains(self, org_id: str) -> Sequence[m.Domain]:
        return self.session.scalars(
            sa.select(m.Domain).where(m.Domain.org_id == org_id).order_by(m.Domain.domain)
        ).all()

    def domain(self, name: str) -> m.Domain | None:
        """The *verified* claim on this email domain, if any organization holds one (pending claims of
        several organizations may coexist; see ``gateway.storage.domain_store``)."""
        return self.session.scalars(hot.verified_domain(), {"name": name}).one_or_none()

    # -- members -------------------------------------------------------------------------------------------
    def member_by_email(self, org_id: str, email: str) -> m.Member | None:
        return self.session.scalars(
            sa.select(m.Member).where(m.Member.org_id == org_id, m.Member.email == email)
        ).one_or_none()

    def member_and_block(self, org_id: str, email: str) -> tuple[m.Member | None, bool]:
        """The member with this email (removed ones too) and whether an Admin blocked the address, in one
        query (a SCIM create asks both), after taking the email's join lock (``lock_email``)."""
        self.lock_email(org_id, email)
        member, is_blocked = self.session.execute(
            hot.member_and_block(), {"org_id": org_id, "email": email}
        ).one()
        return member, bool(is_blocked)

    def member_block_and_domain(
        self, org_id: str, email: str, domain: str
    ) -> tuple[m.Member | None, bool, m.Domain | None]:
        """``member_and_block`` with the verified claim on ``domain`` (``domain()``), in one query: a sign-in
        asks all three."""
        # A SQLite writer taking its write lock here checks its organization's row with this query (one
        # statement fewer under the lock) rather than with one of its own (``check_reads_before_lock``).
        # A SQLite writer before its write lock, whose reads are checked when it takes it, reads without it: the
        # lock is taken at its first write, and this read is then run again and must find the same row.
        optimistic = self.dialect == "sqlite" and self._shared_org_read_pending
        if not optimistic:
            self._folding_org_check = org_id if org_id in self._orgs_read_shared else None
            try:
                self.lock_email(org_id, email)
            finally:
                self._folding_org_check = None
        self._autoflush()
        folded = (
            org_id in self._orgs_read_shared and self._first_write is not None and self._first_write.taken
        )
        stmt = hot.member_block_and_domain(with_org=folded)
        params = {"org_id": org_id, "email": email, "domain": domain}
        (row,) = self.read(stmt, params)
        if optimistic and self._shared_org_read_pending:
            self._members_read_before_lock.append((org_id, params, row))
        split, claim_end = len(members.c), len(members.c) + 1 + len(domains.c)
        if folded:
            org_row = row[claim_end:]
            self._check_org_row(org_id, None if org_row[0] is None else org_row)
        member_row, claim_row = row[:split], row[split + 1 : claim_end]
        member = None
        if member_row[0] is not None:
            member = self._held(m.Member, row_by_column(members, member_row))
        claim = None
        if claim_row[0] is not None:
            claim = loaded(m.Domain, row_by_column(domains, claim_row))
        return member, bool(row[split]), claim

    def from_row(self, cls: type[T], values: dict[str, Any]) -> T:
        """The object of ``cls`` whose row a query just read as ``values`` (one per column): in a writer held by
        the session (``_held``), so a change to it is written; in a reader built outside the session, as
        nothing a reader does changes it (a seventh of what loading it as an ORM entity costs)."""
        return self._held(cls, values) if self.write else loaded(cls, values)

    def _held(self, cls: type[T], values: dict[str, Any]) -> T:
        """The object of ``cls`` whose row was read as ``values``, held by the session as an ORM query would
        hold it: the session's own copy when it has a current one, else one built from the row and attached
        (later changes to it are written as usual)."""
        held = self._session_copy(cls, values["id"])
        if held is not None:
            return held
        return self._attached(cls, values)

    def _attached(self, cls: type[T], values: dict[str, Any]) -> T:
        """An object of ``cls`` built from its row ``values`` and added to the session as persistent."""
        obj = loaded(cls, values)
        make_transient_to_detached(obj)
        self.session.add(obj)
        return obj

    def live_account_elsewhere(self, org_id: str, email: str) -> m.Member | None:
        """A live (not removed) member with this email in *another* organization, if any."""
        return self.session.scalars(
            sa.select(m.Member).where(
                m.Member.email == email,
                m.Member.org_id != org_id,
                m.Member.status != m.MemberStatus.REMOVED,
            )
        ).first()

    def members(
        self,
        org_id: str,
        *,
        query: str | None = None,
        status: m.MemberStatus | None = None,
        role: m.Role | None = None,
        offset: int = 0,
        limit: int = 50,
        after: tuple[Any, ...] | None = None,
    ) -> tuple[list[m.Member], int | None]:
        """Members by email; ``query`` is a substring of the email or the name, served from the search index
        (``gateway.storage.search_tables``). ``after``: a keyset page following that (email,)."""
        stmt = sa.select(m.Member).where(m.Member.org_id == org_id)
        if query:
            stmt = stmt.where(search_condition(query, self.session.get_bind().dialect.name))
        if status is not None:
            stmt = stmt.where(m.Member.status == status)
        else:
            stmt = stmt.where(m.Member.status != m.MemberStatus.REMOVED)
        if role is not None:
            stmt = stmt.where(m.Member.role == role)
        whole_list = not query and role is None
        return self._keyset_page(
            # email is unique in the organization, so it alone is a total order; org_id (fixed by the WHERE)
            # leads so the order is the one (org_id, email) serves, not the cross-organization email index
            stmt.order_by(m.Member.org_id, m.Member.email),
            after,
            offset,
            limit,
            MEMBER_ORDER,
            (lambda: counts.members_total(self.session, org_id, status)) if whole_list else None,
        )

    def count_members(self, org_id: str, *, live_only: bool = True) -> int:
        """The organization's live members (``live_only``), or all of them, from their kept counts."""
        if live_only:
            return counts.members_total(self.session, org_id, None)
        return counts.total(self.session, org_id, [counts.members_list(s) for s in m.MemberStatus])

    def count_active_admins(self, org_id: str) -> int:
        return int(
            self.session.scalar(
                sa.select(sa.func.count())
                .select_from(m.Member)
                .where(
                    m.Member.org_id == org_id,
                    m.Member.role == m.Role.ADMIN,
                    m.Member.status == m.MemberStatus.ACTIVE,
                )
            )
            or 0
        )

    def is_blocked(self, org_id: str, email: str) -> bool:
        return self.blocked_email(org_id, email) is not None

    def blocked_email(self, org_id: str, email: str) -> m.BlockedEmail | None:
        return self.session.scalars(
            sa.select(m.BlockedEmail).where(m.BlockedEmail.org_id == org_id, m.BlockedEmail.email == email)
        ).one_or_none()

    def blocked_emails(self, org_id: str) -> Sequence[m.BlockedEmail]:
        return self.session.scalars(
            sa.select(m.BlockedEmail).where(m.BlockedEmail.org_id == org_id).order_by(m.BlockedEmail.email)
        ).all()

    # -- projects ------------------------------------------------------------------------------------------
    _default_projects: dict[str, str] = {}
    """org id -> its Default Project's id: created with the organization and never deleted, so it is safe to
    remember across transactions and saves a query on every join."""

    def default_project_id(self, org_id: str) -> str:
        project_id = Store._default_projects.get(org_id)
        if project_id is None:
            project_id = self.default_project(org_id).id
            Store._default_projects[org_id] = project_id
        return project_id

    def default_project(self, org_id: str) -> m.Project:
        return self.session.scalars(
            sa.select(m.Project).where(m.Project.org_id == org_id, m.Project.is_default.is_(True))
        ).one()

    def projects(self, org_id: str) -> Sequence[m.Project]:
        return self.session.scalars(
            sa.select(m.Project)
            .where(m.Project.org_id == org_id)
            .order_by(m.Project.is_default.desc(), m.Project.name)
        ).all()

    def project_membership(self, org_id: str, project_id: str, member_id: str) -> m.ProjectMembership | None:
        return self.session.scalars(
            sa.select(m.ProjectMembership).where(
                m.ProjectMembership.org_id == org_id,
                m.ProjectMembership.project_id == project_id,
                m.ProjectMembership.member_id == member_id,
            )
        ).one_or_none()

    def projects_of_member(self, org_id: str, member_id: str) -> Sequence[m.Project]:
        return self.session.scalars(
            sa.select(m.Project)
            .join(m.ProjectMembership, m.ProjectMembership.project_id == m.Project.id)
            .where(m.ProjectMembership.org_id == org_id, m.ProjectMembership.member_id == member_id)
            .order_by(m.Project.is_default.desc(), m.Project.name)
        ).all()

    def project_members(
        self, org_id: str, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Member], int]:
        stmt = (
            sa.select(m.Member)
            .join(m.ProjectMembership, m.ProjectMembership.member_id == m.Member.id)
            .where(m.ProjectMembership.org_id == org_id, m.ProjectMembership.project_id == project_id)
            .order_by(m.Member.email, m.Member.id)
        )
        return self._page(stmt, offset, limit)

    def delete_project_memberships(self, org_id: str, member_id: str) -> int:
        result = self.session.execute(
            sa.delete(m.ProjectMembership).where(
                m.ProjectMembership.org_id == org_id, m.ProjectMembership.member_id == member_id
            )
        )
        return int(result.rowcount or 0)

    # -- resources and keys --------------------------------------------------------------------------------
    def resources(
        self, org_id: str, project_id: str, *, created_by: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Resource], int]:
        stmt = sa.select(m.Resource).where(m.Resource.org_id == org_id, m.Resource.project_id == project_id)
        if created_by:
            stmt = stmt.where(m.Resource.created_by == created_by)
        return self._page(stmt.order_by(m.Resource.created_at, m.Resource.id), offset, limit)

    def count_resources_created_by(self, org_id: str, member_id: str) -> int:
        params = {"org_id": org_id, "member_id": member_id}
        return int(self.session.scalar(hot.resources_created_by(), params) or 0)

    def resources_created_by(self, org_id: str, member_id: str) -> Sequence[m.Resource]:
        return self.session.scalars(
            sa.select(m.Resource)
            .where(m.Resource.org_id == org_id, m.Resource.created_by == member_id)
            .order_by(m.Resource.created_at)
        ).all()

    def api_key_by_hash(self, token_hash: str) -> m.ApiKey | None:
        return self.session.scalars(
            sa.select(m.ApiKey).where(m.ApiKey.token_hash == token_hash)
        ).one_or_none()

    def api_keys(
        self, org_id: str, *, kind: m.ApiKeyKind | None = None, project_id: str | None = None
    ) -> Sequence[m.ApiKey]:
        stmt = sa.select(m.ApiKey).where(m.ApiKey.org_id == org_id)
        if kind is not None:
            stmt = stmt.where(m.ApiKey.kind == kind)
        if project_id is not None:
            stmt = stmt.where(m.ApiKey.project_id == project_id)
        return self.session.scalars(stmt.order_by(m.ApiKey.created_at)).all()

    def revoke_member_api_keys(self, org_id: str, member_id: str, now: datetime) -> int:
        result = self.session.execute(
            sa.update(m.ApiKey)
            .where(m.ApiKey.org_id == org_id, m.ApiKey.member_id == member_id, m.ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    def revoke_project_api_keys(self, org_id: str, project_id: str, member_id: str, now: datetime) -> int:
        """Revoke the keys ``member_id`` holds in one project (they left it); their other keys stay."""
        result = self.session.execute(
            sa.update(m.ApiKey)
            .where(
                m.ApiKey.org_id == org_id,
                m.ApiKey.project_id == project_id,
                m.ApiKey.member_id == member_id,
                m.ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    def scim_token_by_hash(self, token_hash: str) -> m.ScimToken | None:
        return self.session.scalars(
            sa.select(m.ScimToken).where(m.ScimToken.token_hash == token_hash)
        ).one_or_none()

    def scim_token_with_org(
        self, token_hash: str, *, lock_org: bool
    ) -> tuple[m.ScimToken, m.Organization] | None:
        """The token and its organization in one query; ``lock_org`` also takes the organization's shared
        lock (a SCIM write), so authenticating, checking the mode and writing cost one round trip less.

        Both are built from one row outside the session: a SCIM request changes neither (a token's last use is
        written with ``record_last_use``), and ``org`` serves the organization from what ``_keep`` holds."""
        checked = lock_org and self._shared_org_read_pending
        if self.write and lock_org and not checked and self.dialect == "sqlite":
            self.serialize()
        locks = self.write and lock_org and self.dialect != "sqlite"
        stmt = hot.token_and_org_rows(shared_lock=locks)
        found = self.read(stmt, {"token_hash": token_hash})
        if not found:
            return None
        row = found[0]
        split, end = len(scim_tokens.c), len(scim_tokens.c) + len(organizations.c)
        token = loaded(m.ScimToken, row_by_column(scim_tokens, row[:split]))
        org = loaded(m.Organization, row_by_column(organizations, row[split:end]))
        if not self.write:
            return token, org
        if checked:
            self.note_org_read_shared(org)
        elif lock_org:
            self.note_org_locked(org.id, SHARE)
        self._keep(org)
        return token, org

    def record_last_use(self, cls: type[m.ScimToken] | type[m.ApiKey], obj_id: str, at: datetime) -> None:
        self.session.execute(sa.update(cls).where(cls.id == obj_id).values(last_used_at=at))  # type: ignore[arg-type]

    def scim_tokens(self, org_id: str) -> Sequence[m.ScimToken]:
        return self.session.scalars(
            sa.select(m.ScimToken).where(m.ScimToken.org_id == org_id).order_by(m.ScimToken.created_at)
        ).all()

    # -- connections ---------------------------------------------------------------------------------------
    def connections(self, org_id: str) -> Sequence[m.SsoConnection]:
        return self.session.scalars(
            sa.select(m.SsoConnection).where(m.SsoConnection.org_id == org_id).order_by(m.SsoConnection.slug)
        ).all()

    def connection_by_slug(self, slug: str) -> m.SsoConnection | None:
        """The connection, built from its row outside the session: a sign-in reads it first in its transaction,
        and a refusal that rolls that transaction back still answers with it whole (an object of the session
        would expire with the rollback and be read again)."""
        found = self.read(hot.connection_by_slug(), {"slug": slug})
        if not found:
            return None
        return loaded(m.SsoConnection, row_by_column(sso_connections, found[0]))

    def connection_revision(self, connection_id: str) -> str | None:
        """The stored ``revision`` of the connection, ``None`` once it is deleted: what a copy of the connection
        kept by a process is checked against (``m.SsoConnection.revision``)."""
        found = self.read(hot.connection_revision(), {"connection_id": connection_id})
        return found[0][0] if found else None

    # -- invitations ---------------------------------------------------------------------------------------
    def invitation_by_hash(self, token_hash: str) -> m.Invitation | None:
        return self.session.scalars(
            sa.select(m.Invitation).where(m.Invitation.token_hash == token_hash)
        ).one_or_none()

    def pending_invitation(self, org_id: str, email: str) -> m.Invitation | None:
        return self.session.scalars(
            sa.select(m.Invitation).where(
                m.Invitation.org_id == org_id,
                m.Invitation.email == email,
                m.Invitation.status == m.InvitationStatus.PENDING,
            )
        ).one_or_none()

    def invitations(
        self,
        org_id: str,
        now: datetime,
        *,
        status: m.InvitationStatus | None = None,
        offset: int = 0,
        limit: int = 50,
        after: tuple[Any, ...] | None = None,
    ) -> tuple[list[m.Invitation], int | None]:
        """Invitations by *effective* status: a stored ``pending`` past ``expires_at`` counts as ``expired``."""
        stmt = sa.select(m.Invitation).where(m.Invitation.org_id == org_id)
        if status is m.InvitationStatus.PENDING:
            stmt = stmt.where(m.Invitation.status == status, m.Invitation.expires_at > now)
        elif status is m.InvitationStatus.EXPIRED:
            stmt = stmt.where(
                m.Invitation.status == m.InvitationStatus.PENDING, m.Invitation.expires_at <= now
            )
        elif status is not None:
            stmt = stmt.where(m.Invitation.status == status)
        order = stmt.order_by(m.Invitation.created_at.desc(), m.Invitation.id.desc())
        return self._keyset_page(order, after, offset, limit, INVITATION_ORDER)

    def pending_invitations(self, org_id: str) -> Sequence[m.Invitation]:
        return self.session.scalars(
            sa.select(m.Invitation).where(
                m.Invitation.org_id == org_id, m.Invitation.status == m.InvitationStatus.PENDING
            )
        ).all()

    # -- sessions ------------------------------------------------------------------------------------------
    def web_session_by_hash(self, token_hash: str) -> m.WebSession | None:
        return self.session.scalars(
            sa.select(m.WebSession).where(m.WebSession.token_hash == token_hash)
        ).one_or_none()

    def member_session_by_hash(self, token_hash: str) -> tuple[m.WebSession, m.Member, m.Organization] | None:
        """A member's session with the member and the organization, in one query (every signed-in page)."""
        stmt = (
            sa.select(m.WebSession, m.Member, m.Organization)
            .join(m.Member, m.Member.id == m.WebSession.member_id)
            .join(m.Organization, m.Organization.id == m.WebSession.org_id)
            .where(m.WebSession.token_hash == token_hash, m.Member.org_id == m.WebSession.org_id)
        )
        row = self.session.execute(stmt).one_or_none()
        if row is None:
            return None
        self._keep(row[2])
        return row[0], row[1], row[2]

    def revoke_session_by_hash(self, token_hash: str, now: datetime, *, at_commit: bool = False) -> None:
        """End the session with this token hash, if it is live (one UPDATE, nothing read first). A copy this
        transaction already holds is brought up to date, as if the session had been read and changed.
        ``at_commit``: the UPDATE goes with the rows written at the commit (``update_at_commit``)."""
        values = {"hash": token_hash, "at": now}
        if at_commit:
            self.update_at_commit(hot.revoke_session_by_hash(), values)
        else:
            self.send(hot.revoke_session_by_hash(), values)
        for held in list(self.session.identity_map.values()):
            if isinstance(held, m.WebSession) and held.token_hash == token_hash and held.revoked_at is None:
                set_committed_value(held, "revoked_at", now)

    def touch_web_session(self, session_id: str, at: datetime) -> None:
        self.session.execute(
            sa.update(m.WebSession).where(m.WebSession.id == session_id).values(last_seen_at=at)
        )

    def revoke_member_sessions(self, org_id: str, member_id: str, now: datetime) -> int:
        result = self.session.execute(
            sa.update(m.WebSession)
            .where(
                m.WebSession.org_id == org_id,
                m.WebSession.member_id == member_id,
                m.WebSession.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    # -- billing -------------------------------------------------------------------------------------------
    def credit_totals(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict:
        """Credits purchased and used by the organization, optionally within ``[since, until)``."""
        stmt = sa.select(m.CreditEntry.kind, sa.func.coalesce(sa.func.sum(m.CreditEntry.credits), 0)).where(
            m.CreditEntry.org_id == org_id
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.kind)
        totals = {kind: 0 for kind in m.CreditKind}
        for kind, total in self.session.execute(stmt):
            totals[m.CreditKind(kind)] = int(total)
        return totals

    def usage_by_project(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[tuple[str | None, str | None, int]]:
        stmt = (
            sa.select(m.CreditEntry.project_id, m.Project.name, sa.func.sum(m.CreditEntry.credits))
            .outerjoin(m.Project, m.Project.id == m.CreditEntry.project_id)
            .where(m.CreditEntry.org_id == org_id, m.CreditEntry.kind == m.CreditKind.USAGE)
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.project_id, m.Project.name)
        return sorted(
            ((p, n, int(c)) for p, n, c in self.session.execute(stmt)), key=lambda r: (-r[2], r[1] or "")
        )

    def usage_by_member(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[tuple[str, str, int]]:
        stmt = (
            sa.select(m.CreditEntry.member_id, m.Member.email, sa.func.sum(m.CreditEntry.credits))
            .join(m.Member, m.Member.id == m.CreditEntry.member_id)
            .where(m.CreditEntry.org_id == org_id, m.CreditEntry.kind == m.CreditKind.USAGE)
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.member_id, m.Member.email)
        return sorted(((i, e, int(c)) for i, e, c in self.session.execute(stmt)), key=lambda r: (-r[2], r[1]))

    def credit_entries(
        self,
        org_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.CreditEntry], int]:
        stmt = _within(sa.select(m.CreditEntry).where(m.CreditEntry.org_id == org_id), since, until)
        return self._page(stmt.order_by(m.CreditEntry.created_at.desc(), m.CreditEntry.id), offset, limit)

    # -- audit ---------------------------------------------------------------------------------------------
    def audit_events(
        self,
        org_id: str,
        *,
        actor_type: m.ActorType | None = None,
        actor_id: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
        after: tuple[Any, ...] | None = None,
    ) -> tuple[list[m.AuditEvent], int | None]:
        stmt = sa.select(m.AuditEvent).where(m.AuditEvent.org_id == org_id)
        if actor_type is not None:
            stmt = stmt.where(m.AuditEvent.actor_type == actor_type)
        if actor_id:
            stmt = stmt.where(m.AuditEvent.actor_id == actor_id)
        if action:
            if action.endswith("*"):
                stmt = stmt.where(m.AuditEvent.action.like(_escape_like(action[:-1]) + "%", escape="\\"))
            else:
                stmt = stmt.where(m.AuditEvent.action == action)
        if target_id:
            stmt = stmt.where(m.AuditEvent.target_id == target_id)
        order = stmt.order_by(m.AuditEvent.at.desc(), m.AuditEvent.id.desc())
        whole_list = actor_type is None and not actor_id and not action and not target_id
        total = (lambda: counts.total(self.session, org_id, [counts.AUDIT])) if whole_list else None
        return self._keyset_page(order, after, offset, limit, AUDIT_ORDER, total)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _within(stmt: sa.Select, since: datetime | None, until: datetime | None) -> sa.Select:
    if since is not None:
        stmt = stmt.where(m.CreditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(m.CreditEntry.created_at < until)
    return stmt
