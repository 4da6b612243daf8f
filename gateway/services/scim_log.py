"""The SCIM request log (see ``gateway.storage.scim_log_tables``): record one request cheaply, list an
organization's requests with filters, purge rows older than the retention period.

A write's entry is inserted in the write's own transaction. A read (a lookup, a list page) must not pay a
transaction of its own for its entry (on SQLite that would take the write lock for every lookup of a sync), so
the entries of reads wait in this process and go to the database together: with the next write of the process
(the create that follows a lookup during a sync), or in one multi-row insert once ``read_batch_rows`` are
waiting or the oldest has waited ``read_batch_seconds``; ``list`` writes them first, and the WSGI entry point
writes what is left when the process exits. A process that crashes (or a write whose commit fails after
its insert) loses the read entries waiting with it: at most about a second's worth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.services.base import Clock, Listener, ServiceBase, TokenFactory
from gateway.storage.db import Database
from gateway.storage.scim_log_tables import scim_request_log as log_table
from gateway.storage.store import Store

OUTCOMES = ("ok", "refused")


@dataclass(frozen=True)
class ScimRequestEntry:
    org_id: str
    method: str
    path: str
    status: int
    scim_type: str | None = None
    detail: str | None = None
    token_prefix: str | None = None
    request_id: str | None = None
    migration_email: str | None = None
    """Set only when the push was refused because this address's account belongs to another organization:
    the address the organization's Admin may request the migration of (rule 12)."""
    at: datetime | None = None
    id: int | None = None

    @property
    def refused(self) -> bool:
        return self.status >= 400

    @property
    def offers_migration(self) -> bool:
        return self.refused and self.migration_email is not None


@dataclass(frozen=True)
class ScimLogFilter:
    outcome: str | None = None
    """``ok`` (status below 400) or ``refused``."""
    status: int | None = None
    method: str | None = None
    scim_type: str | None = None
    path: str | None = None
    """A prefix of the request path, e.g. ``/scim/v2/Users``."""
    offers_migration: bool = False
    """Only refusals whose account belongs to another organization (a migration can be requested)."""


class ScimLogService(ServiceBase):
    read_batch_rows = 100
    read_batch_seconds = 1.0
    """``0`` writes each read's entry in a short transaction right after the read (no batching)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenFactory,
        listeners: list[Listener] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(db, clock, tokens, listeners)
        self._monotonic = monotonic
        self._reads: list[dict[str, Any]] = []
        self._reads_since = 0.0
        self._reads_lock = threading.Lock()

    def record(self, *entries: ScimRequestEntry) -> None:
        """A row per entry, written when the caller's transaction commits if it writes (with the read entries
        waiting in this process); else the entries wait with the other reads' (see the module docstring)."""
        if not entries:
            return
        now = self.now()
        rows = [self._row(entry, now) for entry in entries]
        with self.db.transaction() as tx:
            if tx.write:
                self._insert(tx, rows)
            elif self._keep_reads(rows):
                tx.defer(self.write_reads)

    @staticmethod
    def _row(entry: ScimRequestEntry, now: datetime) -> dict[str, Any]:
        return {
            "org_id": entry.org_id,
            "at": entry.at or now,
            "method": entry.method[:8],
            "path": entry.path[:500],
            "status": entry.status,
            "scim_type": (entry.scim_type or None) and entry.scim_type[:40],
            "detail": (entry.detail or None) and entry.detail[:500],
            "token_prefix": (entry.token_prefix or None) and entry.token_prefix[:20],
            "request_id": (entry.request_id or None) and entry.request_id[:64],
            "migration_email": (entry.migration_email or None) and entry.migration_email[:320],
        }

    def _keep_reads(self, rows: list[dict[str, Any]]) -> bool:
        """Keep reads' entries; true when the waiting entries are due to be written."""
        now = self._monotonic()
        with self._reads_lock:
            if not self._reads:
                self._reads_since = now
            self._reads.extend(rows)
            return (
                len(self._reads) >= self.read_batch_rows or now - self._reads_since >= self.read_batch_seconds
            )

    def _take_reads(self) -> list[dict[str, Any]]:
        with self._reads_lock:
            taken, self._reads = self._reads, []
            return taken

    def _insert(self, tx: Store, rows: list[dict[str, Any]]) -> None:
        """``rows`` and the read entries waiting in this process, written with the transaction's last statement
        (``Store.insert_at_commit``)."""
        rows = [*self._take_reads(), *rows]
        if rows:
            tx.insert_at_commit(log_table, rows)

    def write_reads(self, tx: Store | None = None) -> None:
        """Write the read entries waiting in this process (in ``tx``, or in a transaction of their own)."""
        if tx is not None:
            self._insert(tx, [])
            return
        if not self._reads:  # nothing waits: no transaction (on SQLite, no write lock) for nothing
            return
        with self.db.transaction() as own:
            self._insert(own, [])

    def list(
        self, org_id: str, where: ScimLogFilter | None = None, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[ScimRequestEntry], int]:
        """The organization's requests, newest first, and how many match."""
        where = where or ScimLogFilter()
        self.write_reads()
        conditions = [log_table.c.org_id == org_id]
        if where.outcome == "ok":
            conditions.append(log_table.c.status < 400)
        elif where.outcome == "refused":
            conditions.append(log_table.c.status >= 400)
        if where.status is not None:
            conditions.append(log_table.c.status == where.status)
        if where.method:
            conditions.append(log_table.c.method == where.method.upper())
        if where.scim_type:
            conditions.append(log_table.c.scim_type == where.scim_type)
        if where.offers_migration:
            conditions += [log_table.c.status >= 400, log_table.c.migration_email.is_not(None)]
        if where.path:
            escaped = where.path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(log_table.c.path.like(escaped + "%", escape="\\"))
        with self.db.transaction() as tx:
            total = tx.session.execute(
                sa.select(sa.func.count()).select_from(log_table).where(*conditions)
            ).scalar_one()
            rows = tx.session.execute(
                sa.select(log_table)
                .where(*conditions)
                .order_by(log_table.c.at.desc(), log_table.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).mappings()
            return [ScimRequestEntry(**dict(row)) for row in rows], int(total)

    def purge(self, older_than: timedelta) -> int:
        """Delete every organization's rows older than ``older_than``; returns how many."""
        with self.db.transaction() as tx:
            result = tx.session.execute(sa.delete(log_table).where(log_table.c.at < self.now() - older_than))
            return int(result.rowcount or 0)
