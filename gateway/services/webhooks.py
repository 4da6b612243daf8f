"""Webhook endpoints of an organization (create, list, change, rotate the secret, remove), the delivery log,
manual replay of a delivery, and the ordered event feed behind ``GET /api/v1/events?after=<cursor>``.

Signing secrets are generated here and returned once (``IssuedEndpoint.secret``); the database keeps them
sealed. Webhook URLs are checked by ``gateway.services.outbound`` (no loopback or private targets outside
development)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.domain import model as m
from gateway.domain.errors import Conflict, InvalidInput
from gateway.outbox.events import EVENT_TYPES
from gateway.outbox.sealing import Sealer
from gateway.outbox.signing import new_secret
from gateway.services.base import ServiceBase, new_id
from gateway.services.outbound import Resolver, check_outbound_url, resolve
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import (
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboxEvent,
    OutboxMessage,
    WebhookEndpoint,
)

MAX_EVENTS_PAGE = 500
MAX_ENDPOINTS_PER_ORG = 20


@dataclass(frozen=True)
class IssuedEndpoint:
    """An endpoint with its signing secret; the secret exists in plain form only here."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class EventPage:
    events: list[OutboxEvent]
    next_cursor: int
    """Pass as ``after`` to get what follows; equals ``after`` when there was nothing new."""


def check_event_types(event_types: Iterable[str] | None) -> list[str]:
    """The subscribed types, deduplicated and in catalog order; ``InvalidInput`` names any unknown type."""
    wanted = [t.strip() for t in (event_types or []) if t and t.strip()]
    if "*" in wanted:
        return []
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s): {', '.join(unknown)}. Known types: {', '.join(EVENT_TYPES)}.",
            field="event_types",
        )
    return [t for t in EVENT_TYPES if t in wanted]


class WebhookService(ServiceBase):
    def __init__(
        self,
        *args: Any,
        sealer: Sealer,
        allow_private_targets: bool,
        resolver: Resolver = resolve,
        secrets: Callable[[], str] = new_secret,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sealer = sealer
        self.allow_private_targets = allow_private_targets
        self.resolver = resolver
        self.new_secret = secrets

    def _url(self, url: str) -> str:
        return check_outbound_url(
            url,
            what="webhook URL",
            field="url",
            allow_private=self.allow_private_targets,
            resolver=self.resolver,
        )

    @staticmethod
    def _description(description: str | None) -> str:
        description = (description or "").strip()
        if len(description) > 200:
            raise InvalidInput("The description is longer than 200 characters.", field="description")
        return description

    # -- endpoints -----------------------------------------------------------------------------------------
    def create(
        self,
        org_id: str,
        url: str,
        actor: m.Actor,
        *,
        event_types: Iterable[str] | None = None,
        description: str | None = None,
    ) -> IssuedEndpoint:
        url = self._url(url)
        types = check_event_types(event_types)
        description = self._description(description)
        secret = self.new_secret()
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            store = OutboxStore(tx)
            if len(store.endpoints(org.id)) >= MAX_ENDPOINTS_PER_ORG:
                raise Conflict(f"An organization can have at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints.")
            now = self.now()
            endpoint = WebhookEndpoint(
                id=new_id(), org_id=org.id, url=url, sealed_secret=self.sealer.seal(secret), created_at=now,
                updated_at=now, event_types=types, description=description, created_by=actor.label,
            )  # fmt: skip
            store.add(endpoint)
            self.audit(tx, org.id, actor, "webhook.created", endpoint, url=url, event_types=types)
            return IssuedEndpoint(endpoint, secret)

    def list(self, org_id: str) -> list[WebhookEndpoint]:
        with self.db.transaction() as tx:
            return list(OutboxStore(tx).endpoints(org_id))

    def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        with self.db.transaction() as tx:
            return self.found(OutboxStore(tx).endpoint(org_id, endpoint_id), "webhook endpoint")

    def update(
        self,
        org_id: str,
        endpoint_id: str,
        actor: m.Actor,
        *,
        url: str | None = None,
        event_types: Iterable[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """Change what is given. Disabling pauses delivery (messages wait); enabling resumes it in order."""
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = self._url(url)
        if event_types is not None:
            changes["event_types"] = check_event_types(event_types)
        if description is not None:
            changes["description"] = self._description(description)
        if enabled is not None:
            changes["enabled"] = bool(enabled)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            endpoint = self.found(OutboxStore(tx).endpoint(org_id, endpoint_id), "webhook endpoint")
            changed = {k: v for k, v in changes.items() if getattr(endpoint, k) != v}
            if changed:
                for key, value in changed.items():
                    setattr(endpoint, key, value)
                endpoint.updated_at = self.now()
                self.audit(tx, org_id, actor, "webhook.updated", endpoint, **changed)
            return endpoint

    def rotate_secret(self, org_id: str, endpoint_id: str, actor: m.Actor) -> IssuedEndpoint:
        """A new signing secret (shown once); deliveries from now on are signed with it."""
        secret = self.new_secret()
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            endpoint = self.found(OutboxStore(tx).endpoint(org_id, endpoint_id), "webhook endpoint")
            endpoint.sealed_secret = self.sealer.seal(secret)
            endpoint.updated_at = self.now()
            self.audit(tx, org_id, actor, "webhook.secret_rotated", endpoint)
            return IssuedEndpoint(endpoint, secret)

    def remove(self, org_id: str, endpoint_id: str, actor: m.Actor) -> None:
        """Delete the endpoint with its queued deliveries and their log."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            endpoint = self.found(OutboxStore(tx).endpoint(org_id, endpoint_id), "webhook endpoint")
            self.audit(tx, org_id, actor, "webhook.removed", endpoint, url=endpoint.url)
            tx.delete(endpoint)

    # -- deliveries ----------------------------------------------------------------------------------------
    def deliveries(
        self,
        org_id: str,
        *,
        kind: MessageKind | None = None,
        status: MessageStatus | None = None,
        endpoint_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[OutboxMessage], int]:
        """Outbox messages of the organization, newest first (dead ones are what an Admin may replay)."""
        with self.db.transaction() as tx:
            return OutboxStore(tx).messages(
                org_id, kind=kind, status=status, endpoint_id=endpoint_id, offset=offset, limit=limit
            )

    def delivery(self, org_id: str, message_id: str) -> tuple[OutboxMessage, list[DeliveryAttempt]]:
        """One message with its delivery log (every attempt, oldest first)."""
        with self.db.transaction() as tx:
            store = OutboxStore(tx)
            message = self.found(store.message(org_id, message_id), "delivery")
            return message, list(store.attempts(org_id, message_id))

    def replay(self, org_id: str, message_id: str, actor: m.Actor) -> OutboxMessage:
        """Send a message again: a dead or delivered webhook (same ``webhook-id``, so receivers can tell a
        replay from a new event), or a dead invitation email whose invitation is still pending."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            message = self.found(OutboxStore(tx).message(org_id, message_id), "delivery")
            if message.status in (MessageStatus.PENDING, MessageStatus.SENDING):
                raise Conflict("This delivery is already queued.")
            if message.kind is MessageKind.EMAIL and not message.sealed_token:
                raise Conflict(
                    "This email cannot be sent again: its link is gone. Resend the invitation for a new link."
                )
            previous = message.status
            now = self.now()
            message.status = MessageStatus.PENDING
            message.next_attempt_at = now
            message.attempts = 0
            message.last_error = None
            message.updated_at = now
            self.audit(
                tx, org_id, actor, "webhook.replayed", None,
                message_id=message.id, kind=message.kind.value, previous_status=previous.value,
            )  # fmt: skip
            return message

    def replay_dead(self, org_id: str, actor: m.Actor, *, endpoint_id: str | None = None) -> int:
        """Replay every dead message of the organization (or of one endpoint); returns how many."""
        dead, _ = self.deliveries(org_id, status=MessageStatus.DEAD, endpoint_id=endpoint_id, limit=10_000)
        count = 0
        for message in dead:
            if message.kind is MessageKind.WEBHOOK or message.sealed_token:
                self.replay(org_id, message.id, actor)
                count += 1
        return count

    def purge_finished(self, older_than: timedelta) -> int:
        """Maintenance across organizations: drop delivered and cancelled messages (and their delivery log)
        untouched for ``older_than``. Dead messages and the event log stay."""
        if older_than < timedelta(0):
            raise InvalidInput("The retention must not be negative.", field="older_than")
        with self.db.transaction() as tx:
            return OutboxStore(tx).purge_finished(self.now() - older_than)

    def stats(self, org_id: str) -> dict[str, int]:
        with self.db.transaction() as tx:
            return OutboxStore(tx).count_by_status(org_id)

    # -- the event feed ------------------------------------------------------------------------------------
    def events(
        self, org_id: str, *, after: int = 0, limit: int = 100, types: Sequence[str] | None = None
    ) -> EventPage:
        """Events with ``seq > after`` in order. Sequence numbers are per organization, gapless and assigned
        in commit order, so a consumer that stores ``next_cursor`` never misses or repeats an event."""
        if after < 0:
            raise InvalidInput("'after' must be a non-negative event sequence number.", field="after")
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise InvalidInput(f"'limit' must be between 1 and {MAX_EVENTS_PAGE}.", field="limit")
        wanted = check_event_types(types) if types else None
        with self.db.transaction() as tx:
            events = list(OutboxStore(tx).events_after(org_id, after, limit, wanted))
        return EventPage(events, events[-1].seq if events else after)

    @staticmethod
    def event_types() -> tuple[str, ...]:
        return EVENT_TYPES
