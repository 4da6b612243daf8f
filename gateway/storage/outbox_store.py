"""The storage contract of the outbox, every method scoped by organization except the worker's claim, which
hands out due messages of all organizations.

Use it inside a ``Database.transaction()``: ``OutboxStore(tx)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from gateway.domain import model as m
from gateway.storage import hot_statements as hot
from gateway.storage.outbox_tables import (
    OPEN_STATUSES,
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboxEvent,
    OutboxMessage,
    WebhookEndpoint,
    invitation_expiry_notices,
    map_outbox_entities,
    outbox_cursors,
    outbox_events,
)
from gateway.storage.store import Store

map_outbox_entities()


_EVENT_COLUMNS = ("org_id", "seq", "event_id", "type", "occurred_at", "payload")


class OutboxStore:
    def __init__(self, tx: Store) -> None:
        self.tx = tx
        self.session = tx.session

    def add(self, obj: object) -> None:
        self.session.add(obj)

    def insert_events(self, events: Sequence[OutboxEvent], *, at_commit: bool = False) -> None:
        """One multi-row insert (the rows need not come back as objects); ``at_commit`` leaves it to the
        transaction's last statement (``Store.insert_at_commit``), when nothing reads the events back."""
        rows = [{c: getattr(e, c) for c in _EVENT_COLUMNS} for e in events]
        if at_commit:
            self.tx.insert_at_commit(outbox_events, rows)
        else:
            self.tx.send(hot.insert_rows(outbox_events, _EVENT_COLUMNS), rows)

    def insert_numbered_events(
        self, org_id: str, events: Sequence[OutboxEvent], *, then: Callable[[int, bool], None]
    ) -> None:
        """PostgreSQL: ``events`` of ``org_id`` inserted and numbered by the transaction's last statement
        (``Store.number_at_commit``); their ``seq`` here is ignored. ``then(last, has_endpoints)`` runs after it."""
        rows = [{c: getattr(e, c) for c in _EVENT_COLUMNS if c != "seq"} for e in events]
        self.tx.number_at_commit(org_id, rows, then)

    def event_ids(self, org_id: str, first_seq: int, last_seq: int) -> dict[int, int]:
        """seq -> primary key of the organization's events numbered ``first_seq`` to ``last_seq``."""
        rows = self.session.execute(
            sa.select(outbox_events.c.seq, outbox_events.c.id).where(
                outbox_events.c.org_id == org_id, outbox_events.c.seq.between(first_seq, last_seq)
            )
        )
        return {int(seq): int(pk) for seq, pk in rows}

    def insert_messages(self, messages: Sequence[OutboxMessage]) -> None:
        if messages:
            self.session.add_all(messages)

    def flush(self) -> None:
        self.session.flush()

    # -- events --------------------------------------------------------------------------------------------
    def reserve_seqs(self, org_id: str, count: int = 1) -> tuple[int, bool]:
        """Take the organization's next ``count`` event numbers; returns the last of them and whether the
        organization has a webhook endpoint. The upsert keeps the cursor row locked until commit, so a
        concurrent transaction of the same organization waits and numbers stay gapless and in commit order."""
        stmt = hot.reserve_seqs(self.session.get_bind().dialect.name)
        ((last, has_endpoints),) = self.tx.fetch(
            stmt, {"org_id": org_id, "count": count, "endpoints_org_id": org_id}
        )
        return int(last), bool(has_endpoints)

    def events_after(
        self, org_id: str, after: int, limit: int, types: Sequence[str] | None = None
    ) -> Sequence[OutboxEvent]:
        stmt = sa.select(OutboxEvent).where(OutboxEvent.org_id == org_id, OutboxEvent.seq > after)
        if types:
            stmt = stmt.where(OutboxEvent.type.in_(list(types)))
        return self.session.scalars(stmt.order_by(OutboxEvent.seq).limit(limit)).all()

    def last_seq(self, org_id: str) -> int:
        value = self.session.scalar(
            sa.select(outbox_cursors.c.last_seq).where(outbox_cursors.c.org_id == org_id)
        )
        return int(value or 0)

    def event(self, pk: int) -> OutboxEvent | None:
        return self.session.get(OutboxEvent, pk)

    # -- endpoints -----------------------------------------------------------------------------------------
    def endpoints(self, org_id: str) -> Sequence[WebhookEndpoint]:
        return self.session.scalars(hot.webhook_endpoints(), {"org_id": org_id}).all()

    def endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        endpoint = self.session.get(WebhookEndpoint, endpoint_id)
        return endpoint if endpoint is not None and endpoint.org_id == org_id else None

    # -- messages ------------------------------------------------------------------------------------------
    def message(self, org_id: str, message_id: str) -> OutboxMessage | None:
        message = self.session.get(OutboxMessage, message_id)
        return message if message is not None and message.org_id == org_id else None

    def messages(
        self,
        org_id: str,
        *,
        kind: MessageKind | None = None,
        status: MessageStatus | None = None,
        endpoint_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[OutboxMessage], int]:
        stmt = sa.select(OutboxMessage).where(OutboxMessage.org_id == org_id)
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        if status is not None:
            stmt = stmt.where(OutboxMessage.status == status)
        if endpoint_id is not None:
            stmt = stmt.where(OutboxMessage.endpoint_id == endpoint_id)
        total = self.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
        stmt = stmt.order_by(OutboxMessage.created_at.desc(), OutboxMessage.seq.desc(), OutboxMessage.id)
        return list(self.session.scalars(stmt.offset(offset).limit(limit)).all()), int(total or 0)

    def cancel_open_emails(self, org_id: str, invitation_id: str, reason: str, now: datetime) -> int:
        """Cancel the invitation's emails not yet sent (and erase their sealed tokens): a resend supersedes
        them, so only the newest link is ever mailed."""
        result = self.session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.org_id == org_id,
                OutboxMessage.invitation_id == invitation_id,
                OutboxMessage.kind == MessageKind.EMAIL,
                OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.DEAD]),
            )
            .values(status=MessageStatus.CANCELLED, sealed_token=None, last_error=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

    def claim_due(
        self, now: datetime, limit: int, claim_id: str, lease_until: datetime, run: int = 1
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages for one worker and mark them ``sending`` until ``lease_until``.

        A webhook message is due only when no earlier message of its endpoint is still open, so each endpoint
        gets its events in order. With ``run > 1`` the claim also takes up to ``run - 1`` messages queued right
        behind such a head, which the worker sends one after the other (stopping at the first failure).
        PostgreSQL locks the chosen rows with ``FOR UPDATE SKIP LOCKED`` (concurrent workers pass over them);
        on SQLite that locking read takes the database's write lock first (``first_write``), so claims take turns.
        """
        earlier = aliased(OutboxMessage)
        blocked = (
            sa.exists()
            .where(
                earlier.endpoint_id == OutboxMessage.endpoint_id,
                earlier.seq < OutboxMessage.seq,
                earlier.status.in_(OPEN_STATUSES),
            )
            .correlate(OutboxMessage)
        )
        endpoint_enabled = (
            sa.exists()
            .where(WebhookEndpoint.id == OutboxMessage.endpoint_id, WebhookEndpoint.enabled.is_(True))
            .correlate(OutboxMessage)
        )
        due = sa.or_(
            sa.and_(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now),
            sa.and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < now),
        )
        stmt = (
            sa.select(OutboxMessage)
            .where(due, sa.or_(OutboxMessage.kind == MessageKind.EMAIL, sa.and_(endpoint_enabled, ~blocked)))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.seq, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        )
        claimed = list(self.session.scalars(stmt).all())
        if run > 1:
            for head in [msg for msg in claimed if msg.kind is MessageKind.WEBHOOK]:
                claimed += self._queued_behind(head, now, run - 1)
        for message in claimed:
            message.status = MessageStatus.SENDING
            message.claim_id = claim_id
            message.claimed_until = lease_until
            message.attempts += 1
            message.updated_at = now
        return claimed

    def _queued_behind(self, head: OutboxMessage, now: datetime, count: int) -> list[OutboxMessage]:
        """The pending messages right behind ``head`` on its endpoint, in order, up to the first one not due."""
        followers = self.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.endpoint_id == head.endpoint_id,
                OutboxMessage.seq > head.seq,
                OutboxMessage.status == MessageStatus.PENDING,
            )
            .order_by(OutboxMessage.seq)
            .limit(count)
            .with_for_update(skip_locked=True)
        ).all()
        run = []
        for message in followers:
            if message.next_attempt_at > now:
                break
            run.append(message)
        return run

    def claimed(self, message_ids: Sequence[str], claim_id: str) -> dict[str, OutboxMessage]:
        """Those of the messages this claim still holds, by id (a worker whose lease ran out and was
        reclaimed by another must not record a result)."""
        messages = self.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(message_ids)),
                OutboxMessage.claim_id == claim_id,
                OutboxMessage.status == MessageStatus.SENDING,
            )
            .with_for_update()
        ).all()
        return {message.id: message for message in messages}

    def load_for_delivery(self, messages: Sequence[OutboxMessage]) -> None:
        """Read the events and endpoints of ``messages`` in two queries (later lookups hit the session)."""
        event_pks = {msg.event_pk for msg in messages if msg.event_pk is not None}
        endpoint_ids = {msg.endpoint_id for msg in messages if msg.endpoint_id is not None}
        if event_pks:
            self.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.id.in_(event_pks))).all()
        if endpoint_ids:
            self.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))).all()

    def purge_finished(self, before: datetime) -> int:
        """Delete delivered and cancelled messages (with their delivery log) last changed before ``before``.
        Dead and open messages and the event log are kept."""
        changed = sa.func.coalesce(OutboxMessage.updated_at, OutboxMessage.created_at)
        result = self.session.execute(
            sa.delete(OutboxMessage)
            .where(
                OutboxMessage.status.in_([MessageStatus.DELIVERED, MessageStatus.CANCELLED]),
                changed < before,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

    def count_by_status(self, org_id: str | None = None) -> dict[str, int]:
        stmt = sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
        if org_id is not None:
            stmt = stmt.where(OutboxMessage.org_id == org_id)
        return {status.value: int(n) for status, n in self.session.execute(stmt).all()}

    # -- invitation expiry ---------------------------------------------------------------------------------
    def _unannounced_expired(self, now: datetime) -> sa.Select:
        notice = invitation_expiry_notices.c
        return sa.select(m.Invitation).where(
            m.Invitation.status == m.InvitationStatus.PENDING,
            m.Invitation.expires_at <= now,
            ~sa.exists().where(
                notice.invitation_id == m.Invitation.id, notice.expires_at == m.Invitation.expires_at
            ),
        )

    def orgs_with_unannounced_expiries(self, now: datetime, limit: int = 100) -> list[str]:
        """Organizations with a pending invitation past its expiry whose expiry was not yet announced."""
        stmt = self._unannounced_expired(now).with_only_columns(m.Invitation.org_id).distinct().limit(limit)
        return list(self.session.scalars(stmt).all())

    def unannounced_expiries(self, org_id: str, now: datetime) -> Sequence[m.Invitation]:
        stmt = (
            self._unannounced_expired(now)
            .where(m.Invitation.org_id == org_id)
            .order_by(m.Invitation.expires_at)
        )
        return self.session.scalars(stmt).all()

    def note_expiry_announced(self, invitation: m.Invitation, now: datetime) -> None:
        self.session.execute(
            sa.insert(invitation_expiry_notices).values(
                invitation_id=invitation.id,
                expires_at=invitation.expires_at,
                org_id=invitation.org_id,
                noticed_at=now,
            )
        )

    # -- delivery log --------------------------------------------------------------------------------------
    def attempts(self, org_id: str, message_id: str) -> Sequence[DeliveryAttempt]:
        return self.session.scalars(
            sa.select(DeliveryAttempt)
            .where(DeliveryAttempt.org_id == org_id, DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        ).all()
