"""The list orders the admin API pages by keyset (``?cursor=``), each served by an index:

- members: ``(email)`` ascending (unique in the organization), by the unique ``(org_id, email)``;
- invitations: ``(created_at, id)`` descending, by ``ix_invitations_org_created``;
- audit events: ``(at, id)`` descending, by ``ix_audit_events_org_at``.

A keyset page is "the rows after this position" as a row-value comparison, which both SQLite and PostgreSQL
turn into a range scan of the index, however deep the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.storage.tables import audit_events, invitations, members


@dataclass(frozen=True)
class Keyset:
    columns: tuple[sa.ColumnElement[Any], ...]
    descending: bool = False

    def follows(self, position: Sequence[Any]) -> sa.ColumnElement[bool]:
        """Rows after ``position`` (the values of ``columns`` of the last row seen) in list order."""
        key = sa.tuple_(*self.columns)
        values = sa.tuple_(*(sa.literal(v, c.type) for c, v in zip(self.columns, position, strict=True)))
        return key < values if self.descending else key > values


MEMBER_ORDER = Keyset((members.c.email,))
INVITATION_ORDER = Keyset((invitations.c.created_at, invitations.c.id), descending=True)
AUDIT_ORDER = Keyset((audit_events.c.at, audit_events.c.id), descending=True)
