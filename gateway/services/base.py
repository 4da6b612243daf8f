"""What every service shares: the database, an injectable clock and token source, and the audit trail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.domain import model as m
from gateway.domain.errors import NotFound
from gateway.storage.db import Database
from gateway.storage.store import EXCLUSIVE, SHARE, Store

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def hash_token(token: str) -> str:
    """Tokens carry 256 bits of randomness, so one SHA-256 is the right stored form (no slow KDF needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    prefix: str
    token_hash: str


class TokenFactory:
    """Random bearer tokens: shown once, stored as a hash, recognizable by a short non-secret prefix."""

    def __init__(self, randbytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self._randbytes = randbytes

    def issue(self, kind: str) -> IssuedToken:
        body = base64.urlsafe_b64encode(self._randbytes(32)).rstrip(b"=").decode()
        token = f"{kind}_{body}"
        return IssuedToken(token=token, prefix=token[: len(kind) + 7], token_hash=hash_token(token))


def same_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


Listener = Callable[[Store, str, dict[str, Any]], None]
"""Called inside the use case's transaction with a topic and a payload, so that whatever it writes (an outbox
row for a webhook or an email) commits or rolls back together with the change itself."""


class ServiceBase:
    def __init__(
        self, db: Database, clock: Clock, tokens: TokenFactory, listeners: list[Listener] | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.tokens = tokens
        self.listeners: list[Listener] = listeners if listeners is not None else []

    def publish(self, tx: Store, topic: str, **payload: Any) -> None:
        for listener in self.listeners:
            listener(tx, topic, payload)

    def now(self) -> datetime:
        return self.clock()

    def audit(
        self,
        tx: Store,
        org_id: str,
        actor: m.Actor,
        action: str,
        target: object | None = None,
        **details: Any,
    ) -> m.AuditEvent:
        target_type = type(target).__name__.lower() if target is not None else None
        event = m.AuditEvent(
            org_id=org_id,
            at=self.now(),
            actor_type=actor.type,
            actor_id=actor.id,
            actor_label=actor.label,
            action=action,
            target_type=target_type,
            target_id=getattr(target, "id", None),
            ip=actor.ip,
            request_id=actor.request_id,
            details=details,
        )
        tx.add_audit(event)
        self.publish(tx, "audit", event=event)
        return event

    @staticmethod
    def locked_org(
        tx: Store, org_id: str, *, exclusive: bool = False, email: str | None = None
    ) -> m.Organization:
        """The organization row, locked for the rest of the transaction.

        Membership changes take it shared: they run side by side (uniqueness is the database's constraints'
        job, and a change that can remove the last Admin also takes ``Store.lock_admin_changes``), while a
        change of the organization itself (its mode, its settings, its credit balance) takes it exclusively,
        waiting for every change in flight and making later ones wait and then see the new state. ``email``:
        the join lock the caller takes next (``Store.org``)."""
        org = tx.org(org_id, lock=EXCLUSIVE if exclusive else SHARE, email=email)
        if org is None:
            raise NotFound("No such organization.", org_id=org_id)
        return org

    @staticmethod
    def found(obj: Any, what: str) -> Any:
        if obj is None:
            raise NotFound(f"No such {what} in this organization.")
        return obj
