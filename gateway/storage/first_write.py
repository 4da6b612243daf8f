"""SQLite: a writer's transaction takes the database's write lock at its first write, not at its start.

SQLite lets one writer in at a time, so whatever a writer does between ``BEGIN IMMEDIATE`` and ``COMMIT`` is done
by one process at a time, however many serve. A SCIM create used to take the lock with its first statement
(the token check) and hold it through parsing, validation and every read, which left the second worker waiting
for three quarters of each request. Now a writer begins as a reader (each statement reads the latest commit, as
PostgreSQL's READ COMMITTED does) and takes the lock just before the first statement that needs it:

- a statement that writes (anything but a plain ``SELECT``: INSERT, UPDATE, DELETE, a savepoint);
- a ``SELECT`` that locks on PostgreSQL (``FOR UPDATE`` / ``FOR SHARE``, which SQLite compiles to nothing): the
  code paths PostgreSQL serializes with row locks are serialized here by the write lock, from that point;
- the store's explicit locks (``Store.lock_email``, ``Store.lock_admin_changes``, an organization locked
  exclusively), which call ``Store.serialize``.

The one lock taken optimistically is an organization's shared lock (what every membership change takes, to
keep a mode switch out while it runs): before the write lock, the store notes the organization row it read
(``Store.note_org_read_shared``); once the lock is held it reads the row again, and if anything changed (a
switch committed in between) the request is run again from the start (``DatabaseUnavailable`` of the
serialization kind, which ``call_with_retries`` retries as nothing was committed).

A request run that way (a SCIM request) goes further, so that the lock is held for its writes alone, not for
the Python that decides them (a SCIM create held it 1.2-1.3 ms on a 2-core Xeon, now about 0.8 ms):

- its read of the member by email (``Store.member_block_and_domain``, the email's join lock on PostgreSQL) is
  made without the lock and made again, with the organization's row, once the lock is held; any difference
  runs the request again;
- the new rows it inserts (``Store.insert_new``: the member, their Default Project membership) wait for the
  lock. The next statement of any kind takes it, a ``flush`` or the commit if none comes, and the rows are
  written first, so no statement of the request reads the tables without them. A uniqueness conflict they meet
  then is raised as the error the caller named for it (``Store.name_conflicts``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import SelectBase

from gateway.storage import prepared
from gateway.storage.write_lock import WriteQueue

QUEUED = "gateway.write_queue"
"""``Session.info`` key of the writer's place in the ``WriteQueue`` (released by ``Database``)."""

_PENDING = "_gateway_first_write"
"""Attribute of the ``Connection`` of a writer that has not taken the write lock yet."""


def needs_write_lock(clause: Any) -> bool:
    """Whether SQLite's write lock must be held to run ``clause`` (see the module docstring)."""
    if isinstance(clause, SelectBase):
        return getattr(clause, "_for_update_arg", None) is not None
    if isinstance(clause, sa.TextClause):
        clause = clause.text
    if isinstance(clause, str):
        return clause.lstrip()[:6].upper() != "SELECT"
    return True


def before_execute(conn: sa.Connection, clause: Any, *_args: Any) -> None:
    """The engine's ``before_execute`` hook: take a pending writer's lock before a statement that needs it."""
    pending: FirstWrite | None = getattr(conn, _PENDING, None)
    if pending is not None and (pending.holds_rows or needs_write_lock(clause)):
        pending.take()


class FirstWrite:
    """The write lock a SQLite writer will take: its place in the ``WriteQueue``, then ``BEGIN IMMEDIATE``, then
    ``on_taken`` (the store's check of what it read before)."""

    def __init__(
        self, queue: WriteQueue, session: Session, conn: sa.Connection, on_taken: Callable[[], None]
    ) -> None:
        self._queue = queue
        self._session = session
        self._conn = conn
        self._on_taken = on_taken
        self.holds_rows = False
        """Rows wait for the lock (``Store.insert_new``): the next statement of any kind takes it."""
        setattr(conn, _PENDING, self)

    @property
    def taken(self) -> bool:
        return getattr(self._conn, _PENDING, None) is not self

    def take(self) -> None:
        if self.taken:
            return
        setattr(self._conn, _PENDING, None)
        self._session.info[QUEUED] = self._queue.acquire()
        # On the driver's cursor: SQLAlchemy's execution costs more Python than SQLite's BEGIN.
        prepared.control(self._conn, "BEGIN IMMEDIATE")
        self._on_taken()
