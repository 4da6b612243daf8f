"""The storage contract of the SAML adapter's shared state, every method scoped by organization and connection.

Use it inside a ``Database.transaction()``: ``SamlStore(tx)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage import hot_statements as hot
from gateway.storage.saml_tables import SamlAssertionSeen, SamlRequest, map_saml_entities
from gateway.storage.store import Store, email_lock_key, row_of
from gateway.storage.tables import organizations

map_saml_entities()


class SamlStore:
    def __init__(self, tx: Store) -> None:
        self.tx = tx
        self.session = tx.session
        self.dialect = tx.dialect

    def remember_request(self, request: SamlRequest) -> None:
        self.session.add(request)
        self.session.flush()

    def request_live(
        self, org_id: str, connection_id: str, request_id: str, kind: str, now: datetime
    ) -> bool:
        """Whether the request is remembered for this connection and still live (without consuming it)."""
        found = self.session.scalar(
            sa.select(SamlRequest.id).where(
                SamlRequest.id == request_id,
                SamlRequest.org_id == org_id,
                SamlRequest.connection_id == connection_id,
                SamlRequest.kind == kind,
                SamlRequest.expires_at > now,
            )
        )
        return found is not None

    def consume_request(
        self, org_id: str, connection_id: str, request_id: str, kind: str, now: datetime
    ) -> bool:
        """Delete the remembered request and say whether it existed for this connection and was still live.

        The DELETE is the check, so two processes racing with the same response cannot both consume it."""
        return self.take_request(org_id, connection_id, request_id, kind, now) is not None

    def take_request(
        self, org_id: str, connection_id: str, request_id: str, kind: str, now: datetime
    ) -> tuple[str | None] | None:
        """Delete the remembered live request and return its ``(browser_hash,)``; ``None`` when there was none.

        One ``DELETE ... RETURNING``: the delete is the check, and the caller compares the browser binding."""
        row = self.session.execute(
            hot.take_request(),
            {"id": request_id, "org_id": org_id, "connection_id": connection_id, "kind": kind, "now": now},
        ).first()
        return None if row is None else (row[0],)

    def record_assertion(self, seen: SamlAssertionSeen) -> bool:
        """Remember an assertion ID; ``False`` when it was already used on this connection (a replay).

        The primary key decides, so a replay sent to two processes at once is refused by one of them: one
        ``INSERT ... ON CONFLICT DO NOTHING`` that inserts no row for an ID already there (no savepoint, no
        failed statement; a replay refuses the sign-in, which rolls the transaction back anyway)."""
        values = row_of(seen)
        return bool(self.tx.fetch(hot.record_assertion(self.dialect), values))

    def record_assertion_taking_request(
        self, seen: SamlAssertionSeen, request_id: str, kind: str, now: datetime
    ) -> tuple[bool, tuple[str | None] | None]:
        """``record_assertion``, then ``take_request`` of ``request_id`` on the assertion's connection: whether
        the assertion was new, and the ``(browser_hash,)`` of the live request it consumed (``None`` when there
        was none). On PostgreSQL one statement (``hot.record_assertion_taking_request``); the request is not
        taken when the assertion is a replay only on SQLite, which is refused and rolled back either way."""
        if self.dialect != "postgresql":
            if not self.record_assertion(seen):
                return False, None
            return True, self.take_request(seen.org_id, seen.connection_id, request_id, kind, now)
        values = {**row_of(seen), **_request_values(seen, request_id, kind, now)}
        rows = self.tx.fetch(hot.record_assertion_taking_request(), values)
        if not rows:
            return False, None
        _, taken, browser_hash = rows[0]
        return True, ((browser_hash,) if taken else None)

    def record_assertion_locking_sign_in(
        self, seen: SamlAssertionSeen, email: str, request: tuple[str, str, datetime] | None
    ) -> tuple[bool, tuple[str | None] | None, str | None]:
        """PostgreSQL: ``record_assertion`` (with ``request``, ``(request_id, kind, now)``:
        ``record_assertion_taking_request``) in the statement that takes the locks the sign-in of ``email`` (as
        normalized) takes next, its organization's shared lock and the email's join lock
        (``hot.record_assertion_locking_sign_in``; ``Store.note_sign_in_locks``). Returns what those return
        (the taken request's ``(browser_hash,)`` only with ``request``), then the connection's stored revision
        (``Store.connection_revision``). The assertion's foreign key on the organization refuses the statement
        when the organization is gone, so a row always comes back."""
        values = {**row_of(seen), "email_key": email_lock_key(seen.org_id, email)}
        if request is not None:
            values.update(_request_values(seen, *request))
        stmt = hot.record_assertion_locking_sign_in(taking_request=request is not None)
        (row,) = self.tx.read(stmt, values)
        self.tx.note_sign_in_locks(row, email)
        end = len(organizations.c) + 2  # the organization's columns, its gate, the email's lock
        fresh, revision = bool(row[end]), row[-1]
        if request is None or not fresh:
            return fresh, None, revision
        taken, browser_hash = row[end + 1], row[end + 2]
        return True, ((browser_hash,) if taken else None), revision

    def purge_expired(self, now: datetime) -> int:
        """Delete expired requests and replay entries (all organizations: this is housekeeping, not a read)."""
        removed = self.session.execute(sa.delete(SamlRequest).where(SamlRequest.expires_at <= now))
        seen = self.session.execute(sa.delete(SamlAssertionSeen).where(SamlAssertionSeen.expires_at <= now))
        return int(removed.rowcount or 0) + int(seen.rowcount or 0)

    def live_sessions(self, org_id: str, now: datetime) -> Sequence[m.WebSession]:
        """The organization's sessions that are neither revoked nor past their absolute expiry."""
        return self.session.scalars(
            sa.select(m.WebSession).where(
                m.WebSession.org_id == org_id,
                m.WebSession.revoked_at.is_(None),
                m.WebSession.expires_at > now,
            )
        ).all()


def _request_values(seen: SamlAssertionSeen, request_id: str, kind: str, now: datetime) -> dict[str, object]:
    """The parameters of the DELETE of the request an assertion answers (``hot._taking_request``)."""
    return {
        "request_id": request_id,
        "request_org_id": seen.org_id,
        "request_connection_id": seen.connection_id,
        "kind": kind,
        "now": now,
    }
