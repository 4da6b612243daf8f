"""Copies of SSO connections a process keeps between requests, so a sign-in does not read its connection first.

A SAML sign-in needs its connection (certificates, settings) before the checks of the response, which touch no
table, and sends its first statement only after them. Reading the connection first cost a statement, and on
PostgreSQL a round trip, per sign-in. A kept copy is used instead, and it is checked against the stored row in
the statement the sign-in sends first anyway: the copy's ``revision`` must be the stored one, which the database
draws again on every write of the row (``gateway.storage.tables.CONNECTION_REVISION_DDL``). A copy found stale
raises ``ConnectionChanged`` before anything is written; the caller then rolls back, reads the connection and
starts over, so no sign-in is ever decided on a connection that is not the stored one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from gateway.domain import model as m


class ConnectionChanged(Exception):
    """The kept copy of a connection is not what is stored (edited, disabled, deleted since it was kept)."""


class KeptConnections:
    """The connections a process's sign-ins used lately, by slug (the least recently used go beyond ``size``).
    Shared by the threads of a process; a copy is never changed, only replaced."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._copies: OrderedDict[str, m.SsoConnection] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slug: str) -> m.SsoConnection | None:
        with self._lock:
            copy = self._copies.get(slug)
            if copy is not None:
                self._copies.move_to_end(slug)
            return copy

    def keep(self, connection: m.SsoConnection) -> None:
        with self._lock:
            self._copies[connection.slug] = connection
            self._copies.move_to_end(connection.slug)
            while len(self._copies) > self.size:
                self._copies.popitem(last=False)

    def forget(self, slug: str) -> None:
        with self._lock:
            self._copies.pop(slug, None)
