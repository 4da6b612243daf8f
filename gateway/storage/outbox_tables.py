"""Tables of the transactional outbox: webhook endpoints, the per-organization event log, the messages waiting
to be delivered (webhooks and invitation emails) and the delivery log.

Rows are written by the outbox listener inside the use case's own transaction, so an event exists exactly when
the change it announces committed. They share ``metadata`` and ``mapper_registry`` with the organization core,
so migrations and ``create_all`` see them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.tables import TS, mapper_registry, metadata


class MessageKind(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its ``next_attempt_at``."""
    SENDING = "sending"
    """Claimed by a worker until ``claimed_until``; reclaimed after that if the worker died."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Failed too often (or permanently); parked until an Admin replays it."""
    CANCELLED = "cancelled"
    """Not worth sending any more (the invitation was resent, revoked or accepted meanwhile)."""


OPEN_STATUSES = (MessageStatus.PENDING, MessageStatus.SENDING)


@dataclass(eq=False)
class WebhookEndpoint:
    """Where an organization wants its membership events. ``sealed_secret`` is the signing secret encrypted with
    a key derived from the gateway's secret key; the plain secret is shown once when created or rotated."""

    id: str
    org_id: str
    url: str
    sealed_secret: str = field(repr=False)
    created_at: datetime
    updated_at: datetime
    event_types: list = field(default_factory=list)
    """Event types to deliver; empty means every type."""
    description: str = ""
    enabled: bool = True
    created_by: str | None = None

    def wants(self, event_type: str) -> bool:
        """Subscribed to ``event_type``. A disabled endpoint still collects its events (delivery is paused)."""
        return not self.event_types or event_type in self.event_types


@dataclass(eq=False)
class OutboxEvent:
    """One membership change as published to webhooks and the events API. ``seq`` counts per organization
    without gaps, in commit order; it is the cursor of ``GET /api/v1/events?after=``."""

    org_id: str
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    payload: dict = field(default_factory=dict)
    id: int | None = None


@dataclass(eq=False)
class OutboxMessage:
    """One delivery to do: an event to one webhook endpoint, or one invitation email.

    Webhook messages of an endpoint are delivered one at a time in ``seq`` order. An email message carries the
    invitation link's token sealed (encrypted) until it is sent, cancelled or superseded; then it is erased.
    """

    id: str
    org_id: str
    kind: MessageKind
    status: MessageStatus
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    endpoint_id: str | None = None
    event_pk: int | None = None
    seq: int | None = None
    event_type: str | None = None
    invitation_id: str | None = None
    recipient: str | None = None
    sealed_token: str | None = field(default=None, repr=False)
    claim_id: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None
    last_status_code: int | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class DeliveryAttempt:
    """The delivery log: one row per try, successful or not."""

    org_id: str
    message_id: str
    number: int
    at: datetime
    succeeded: bool
    duration_ms: int
    worker: str
    status_code: int | None = None
    error: str | None = None
    id: int | None = None


def _status(cls: type[enum.Enum], length: int = 16) -> sa.Enum:
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [x.value for x in e],
    )


def _org() -> sa.Column:
    return sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )


_BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _org(),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("sealed_secret", sa.Text, nullable=False),
    sa.Column("event_types", sa.JSON, nullable=False, default=list),
    sa.Column("description", sa.String(200), nullable=False, default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("created_by", sa.String(320)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_webhook_endpoints_org", "org_id"),
)

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
    _org(),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.UniqueConstraint("org_id", "seq"),
)

# The last ``seq`` handed out per organization. Bumping it takes the row lock until commit, so concurrent
# writers in one organization get their numbers in commit order (see ``OutboxStore.reserve_seqs``).
outbox_cursors = sa.Table(
    "outbox_cursors",
    metadata,
    sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("last_seq", sa.BigInteger, nullable=False, default=0),
)

outbox_messages = sa.Table(
    "outbox_messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _org(),
    sa.Column("kind", _status(MessageKind), nullable=False),
    sa.Column("status", _status(MessageStatus), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")),
    sa.Column("event_pk", _BIGINT, sa.ForeignKey("outbox_events.id", ondelete="CASCADE")),
    sa.Column("seq", sa.BigInteger),
    sa.Column("event_type", sa.String(64)),
    sa.Column("invitation_id", sa.String(36), sa.ForeignKey("invitations.id", ondelete="CASCADE")),
    sa.Column("recipient", sa.String(320)),
    sa.Column("sealed_token", sa.Text),
    sa.Column("claim_id", sa.String(36)),
    sa.Column("claimed_until", TS),
    sa.Column("last_error", sa.String(500)),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("delivered_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS),
    sa.UniqueConstraint("endpoint_id", "event_pk"),
    sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    sa.Index("ix_outbox_messages_endpoint_seq", "endpoint_id", "seq"),
    sa.Index("ix_outbox_messages_org_created", "org_id", "created_at"),
    sa.Index("ix_outbox_messages_invitation", "invitation_id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
    _org(),
    sa.Column(
        "message_id", sa.String(36), sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(500)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Index("ix_delivery_attempts_message", "message_id", "id"),
)

# Invitations whose expiry was announced (``invitation.expired``). Expiry is a moment, not a write, so the
# worker's sweep records here which (invitation, expiry time) it has published; a resend sets a new expiry.
invitation_expiry_notices = sa.Table(
    "invitation_expiry_notices",
    metadata,
    sa.Column(
        "invitation_id", sa.String(36), sa.ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("expires_at", TS, primary_key=True),
    _org(),
    sa.Column("noticed_at", TS, nullable=False),
)

_MAPPINGS = [
    (WebhookEndpoint, webhook_endpoints),
    (OutboxEvent, outbox_events),
    (OutboxMessage, outbox_messages),
    (DeliveryAttempt, delivery_attempts),
]


def map_outbox_entities() -> None:
    """Map the outbox dataclasses onto their tables, once per process."""
    if getattr(map_outbox_entities, "done", False):
        return
    for cls, table in _MAPPINGS:
        mapper_registry.map_imperatively(cls, table)
    map_outbox_entities.done = True  # type: ignore[attr-defined]
