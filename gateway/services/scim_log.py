"""The SCIM request log (see ``gateway.storage.scim_log_tables``): record one request cheaply, list an
organization's requests with filters, purge rows older than the retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.services.base import ServiceBase
from gateway.storage.scim_log_tables import scim_request_log as log_table

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
    at: datetime | None = None
    id: int | None = None

    @property
    def refused(self) -> bool:
        return self.status >= 400


@dataclass(frozen=True)
class ScimLogFilter:
    outcome: str | None = None
    """``ok`` (status below 400) or ``refused``."""
    status: int | None = None
    method: str | None = None
    scim_type: str | None = None
    path: str | None = None
    """A prefix of the request path, e.g. ``/scim/v2/Users``."""


class ScimLogService(ServiceBase):
    def record(self, entry: ScimRequestEntry) -> None:
        """One INSERT: in the caller's transaction when it writes, else in a short one after it."""
        values: dict[str, Any] = {
            "org_id": entry.org_id,
            "at": entry.at or self.now(),
            "method": entry.method[:8],
            "path": entry.path[:500],
            "status": entry.status,
            "scim_type": (entry.scim_type or None) and entry.scim_type[:40],
            "detail": (entry.detail or None) and entry.detail[:500],
            "token_prefix": (entry.token_prefix or None) and entry.token_prefix[:20],
            "request_id": (entry.request_id or None) and entry.request_id[:64],
        }
        with self.db.transaction() as tx:
            if tx.write:
                tx.session.execute(sa.insert(log_table).values(**values))
            else:
                tx.defer(lambda later: later.session.execute(sa.insert(log_table).values(**values)))

    def list(
        self, org_id: str, where: ScimLogFilter | None = None, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[ScimRequestEntry], int]:
        """The organization's requests, newest first, and how many match."""
        where = where or ScimLogFilter()
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
