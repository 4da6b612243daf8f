"""The outbox writer: a services listener that turns what a use case publishes into outbox rows, inside the
use case's own transaction. If the change rolls back, so do its events and emails; if it commits, they are
there for the delivery worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.domain import model as m
from gateway.outbox.events import Described, describe, iso, new_event_id
from gateway.outbox.sealing import Sealer
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import MessageKind, MessageStatus, OutboxEvent, OutboxMessage
from gateway.storage.store import Store, fresh

SUPERSEDED = "superseded by a newer invitation email"
_PENDING = "outbox.pending"


class OutboxWriter:
    def __init__(
        self, sealer: Sealer, clock: Callable[[], datetime], event_ids: Callable[[], str] = new_event_id
    ) -> None:
        self.sealer = sealer
        self.clock = clock
        self.event_ids = event_ids

    def __call__(self, tx: Store, topic: str, payload: dict[str, Any]) -> None:
        if topic == "audit":
            self.record(tx, payload["event"])
        elif topic == "invitation.issued":
            self.enqueue_invitation_email(tx, payload["org"], payload["invitation"], payload["token"])

    def record(self, tx: Store, audit: m.AuditEvent) -> None:
        """Describe the published events of ``audit`` now (a snapshot of the object as this step left it) and
        write them when the transaction commits: the organization's next numbers taken at once, one multi-row
        insert of events, one of webhook messages (one per subscribed endpoint: the numbering also says whether
        the organization has an endpoint, so an organization without webhooks reads none).

        Numbering last also keeps the per-organization cursor row, which orders events in commit order, locked
        for the shortest time: concurrent changes of one organization run side by side until that point."""
        described = describe(tx, audit)
        if not described:
            return
        tx.buffer(_PENDING, (audit, described))
        tx.before_commit(_PENDING, lambda: self._write(tx))

    def _write(self, tx: Store) -> None:
        by_org: dict[str, list[tuple[m.AuditEvent, Described]]] = {}
        for audit, described in tx.info.pop(_PENDING, []):
            by_org.setdefault(audit.org_id, []).extend((audit, item) for item in described)
        store = OutboxStore(tx)
        if len(by_org) == 1 and tx.dialect == "postgresql":
            ((org_id, items),) = by_org.items()
            self._write_numbered_at_commit(tx, store, org_id, items)
            return
        for org_id, items in by_org.items():
            org = tx.org(org_id)
            last, has_endpoints = store.reserve_seqs(org_id, len(items))
            first = last - len(items) + 1
            events = [self._event(org, audit, item, seq) for seq, (audit, item) in enumerate(items, first)]
            # Without endpoints nothing reads the events back: they go with the transaction's last statement.
            store.insert_events(events, at_commit=not has_endpoints)
            if has_endpoints:
                self._messages(store, org_id, events)

    def _write_numbered_at_commit(
        self, tx: Store, store: OutboxStore, org_id: str, items: list[tuple[m.AuditEvent, Described]]
    ) -> None:
        """PostgreSQL: the events go with the transaction's last statement, which also numbers them
        (``Store.number_at_commit``): the organization's cursor row is locked from there to the commit only."""
        org = tx.org(org_id)
        events = [self._event(org, audit, item, 0) for audit, item in items]

        def numbered(last: int, has_endpoints: bool) -> None:
            for seq, event in enumerate(events, last - len(events) + 1):
                event.seq = event.payload["sequence"] = seq
            if has_endpoints:
                self._messages(store, org_id, events)

        store.insert_numbered_events(org_id, events, then=numbered)

    @staticmethod
    def _messages(store: OutboxStore, org_id: str, events: list[OutboxEvent]) -> None:
        """One webhook message per event and subscribed endpoint of the organization."""
        endpoints = list(store.endpoints(org_id))
        ids = store.event_ids(org_id, events[0].seq, events[-1].seq)
        store.insert_messages(
            [
                OutboxMessage(
                    id=str(uuid.uuid4()),
                    org_id=org_id,
                    kind=MessageKind.WEBHOOK,
                    status=MessageStatus.PENDING,
                    created_at=event.occurred_at,
                    next_attempt_at=event.occurred_at,
                    endpoint_id=endpoint.id,
                    event_pk=ids[event.seq],
                    seq=event.seq,
                    event_type=event.type,
                )
                for event in events
                for endpoint in endpoints
                if endpoint.wants(event.type)
            ]
        )

    def _event(
        self, org: m.Organization | None, audit: m.AuditEvent, item: Described, seq: int
    ) -> OutboxEvent:
        event_id = self.event_ids()
        return fresh(
            OutboxEvent,
            org_id=audit.org_id,
            seq=seq,
            event_id=event_id,
            type=item.type,
            occurred_at=audit.at,
            payload={
                "id": event_id,
                "type": item.type,
                "timestamp": iso(audit.at),
                "sequence": seq,
                "organization": {"id": audit.org_id, "slug": org.slug if org else None},
                "data": item.data,
            },
        )

    def enqueue_invitation_email(
        self, tx: Store, org: m.Organization, invitation: m.Invitation, token: str
    ) -> OutboxMessage:
        """Queue the invitation email with the link's token sealed; earlier unsent emails of the same invitation
        are cancelled, since a resend kills their link."""
        store = OutboxStore(tx)
        now = self.clock()
        store.cancel_open_emails(org.id, invitation.id, SUPERSEDED, now)
        message = OutboxMessage(
            id=str(uuid.uuid4()),
            org_id=org.id,
            kind=MessageKind.EMAIL,
            status=MessageStatus.PENDING,
            created_at=now,
            next_attempt_at=now,
            invitation_id=invitation.id,
            recipient=invitation.email,
            sealed_token=self.sealer.seal(token),
            event_type="invitation.email",
        )
        store.add(message)
        return message
