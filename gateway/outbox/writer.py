"""The outbox writer: a services listener that turns what a use case publishes into outbox rows, inside the
use case's own transaction. If the change rolls back, so do its events and emails; if it commits, they are
there for the delivery worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.domain import model as m
from gateway.outbox.events import describe, iso, new_event_id
from gateway.outbox.sealing import Sealer
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import MessageKind, MessageStatus, OutboxEvent, OutboxMessage
from gateway.storage.store import Store

SUPERSEDED = "superseded by a newer invitation email"


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

    def record(self, tx: Store, audit: m.AuditEvent) -> list[OutboxEvent]:
        """Append the published events of ``audit`` to the organization's log and queue one webhook message
        per subscribed endpoint."""
        described = describe(tx, audit)
        if not described:
            return []
        store = OutboxStore(tx)
        org = tx.org(audit.org_id)
        endpoints = list(store.endpoints(audit.org_id))
        written = []
        for item in described:
            seq = store.next_seq(audit.org_id)
            event = OutboxEvent(
                org_id=audit.org_id,
                seq=seq,
                event_id=self.event_ids(),
                type=item.type,
                occurred_at=audit.at,
                payload={
                    "id": "",
                    "type": item.type,
                    "timestamp": iso(audit.at),
                    "sequence": seq,
                    "organization": {"id": audit.org_id, "slug": org.slug if org else None},
                    "data": item.data,
                },
            )
            event.payload["id"] = event.event_id
            store.add(event)
            store.flush()
            for endpoint in endpoints:
                if endpoint.wants(item.type):
                    store.add(
                        OutboxMessage(
                            id=str(uuid.uuid4()),
                            org_id=audit.org_id,
                            kind=MessageKind.WEBHOOK,
                            status=MessageStatus.PENDING,
                            created_at=audit.at,
                            next_attempt_at=audit.at,
                            endpoint_id=endpoint.id,
                            event_pk=event.id,
                            seq=seq,
                            event_type=item.type,
                        )
                    )
            written.append(event)
        return written

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
