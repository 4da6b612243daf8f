"""Reading the audit trail (rule 10); events are written by each use case inside its own transaction."""

from __future__ import annotations

from typing import Any

from gateway.domain import model as m
from gateway.services.base import ServiceBase


class AuditService(ServiceBase):
    def list(
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
        """``after``: a keyset page (no total) following that (at, id), newest first."""
        with self.db.transaction() as tx:
            return tx.audit_events(
                org_id, actor_type=actor_type, actor_id=actor_id, action=action, target_id=target_id,
                offset=offset, limit=limit, after=after,
            )  # fmt: skip
