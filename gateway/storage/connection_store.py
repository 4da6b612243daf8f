"""Storage for connection maintenance jobs that run for every organization (the worker's schedule).

Use it inside a ``Database.transaction()``: ``ConnectionStore(tx)``. Tenant-facing reads stay in ``Store``,
scoped by organization; this is the one place that lists connections across organizations, for the system.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.store import Store


class ConnectionStore:
    def __init__(self, tx: Store) -> None:
        self.session = tx.session

    def all_of_protocol(self, protocol: m.ConnectionProtocol) -> Sequence[m.SsoConnection]:
        """Every organization's connections of ``protocol`` (for system jobs, never for a tenant's view)."""
        return self.session.scalars(
            sa.select(m.SsoConnection)
            .where(m.SsoConnection.protocol == protocol)
            .order_by(m.SsoConnection.created_at, m.SsoConnection.id)
        ).all()
