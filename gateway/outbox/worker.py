"""The delivery worker: claims due outbox messages, sends them outside any transaction, and records each
outcome (delivered, retry later with backoff, or dead-lettered) in the delivery log.

Claims are leases: a claimed message is ``sending`` until ``claimed_until``; only the claim that holds it may
record its result, and a message whose worker died is claimed again once the lease runs out (at-least-once).
Several workers, in any number of processes, may run against one database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from gateway.domain import model as m
from gateway.metrics import record_delivery
from gateway.outbox.chores import Chore
from gateway.outbox.emails import InvitationEmail, accept_link
from gateway.outbox.expiry import InvitationExpiry
from gateway.outbox.mailer import Mailer, MailError
from gateway.outbox.retry import EMAIL_RETRY, WEBHOOK_RETRY, RetryPolicy
from gateway.outbox.sealing import Sealer, SealError
from gateway.outbox.webhook_sender import SendResult, WebhookSender
from gateway.services.base import hash_token
from gateway.storage.db import Database
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import DeliveryAttempt, MessageKind, MessageStatus, OutboxMessage
from gateway.storage.store import Store

log = logging.getLogger("gateway.outbox.worker")


@dataclass
class Job:
    """Everything needed to send one claimed message, read in the claim transaction."""

    message_id: str
    claim_id: str
    org_id: str
    kind: MessageKind
    endpoint_id: str | None = None
    url: str = ""
    secret: str = ""
    event_id: str = ""
    body: str = ""
    email: EmailMessage | None = None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    duration_ms: int = 0
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime],
        mailer: Mailer,
        sender: WebhookSender,
        sealer: Sealer,
        public_url: str,
        worker_id: str | None = None,
        batch_size: int = 20,
        run_length: int = 20,
        concurrency: int = 4,
        lease: timedelta = timedelta(minutes=5),
        webhook_retry: RetryPolicy = WEBHOOK_RETRY,
        email_retry: RetryPolicy = EMAIL_RETRY,
        expiry: InvitationExpiry | None = None,
        expiry_interval: timedelta = timedelta(minutes=1),
        chores: Sequence[Chore] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.mailer = mailer
        self.sender = sender
        self.sealer = sealer
        self.public_url = public_url
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size
        self.run_length = max(1, run_length)
        self.concurrency = max(1, concurrency)
        if lease.total_seconds() < 4 * sender.timeout:
            raise ValueError("the claim lease must be at least four times the webhook timeout")
        self.lease = lease
        self.retry = {MessageKind.WEBHOOK: webhook_retry, MessageKind.EMAIL: email_retry}
        self.expiry = expiry
        self.expiry_interval = expiry_interval
        self._last_sweep: datetime | None = None
        self.chores = list(chores)
        self._secrets: dict[str, str] = {}
        """Endpoint secrets opened for the current batch (a rotated secret applies from the next batch)."""

    # -- the loop ------------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim one batch, send it, record the outcomes. Returns how many messages were claimed."""
        claim_id = str(uuid.uuid4())
        with self.db.transaction() as tx:
            now = self.clock()
            store = OutboxStore(tx)
            claimed = store.claim_due(now, self.batch_size, claim_id, now + self.lease, run=self.run_length)
            store.load_for_delivery(claimed)
            self._secrets.clear()
            jobs = [job for job in (self._prepare(tx, message, now) for message in claimed) if job]
        if not claimed:
            return 0
        self._record(self._send_all(jobs))
        return len(claimed)

    def sweep_expiries(self) -> int:
        """Announce expired invitations (at most once per ``expiry_interval``); returns how many."""
        now = self.clock()
        if self.expiry is None or (self._last_sweep and now - self._last_sweep < self.expiry_interval):
            return 0
        self._last_sweep = now
        return self.expiry.announce_expired()

    def drain(self, max_batches: int = 10_000) -> int:
        """Announce due expiries, then run batches until nothing is due (now, by this worker's clock);
        returns messages claimed."""
        self.sweep_expiries()
        for chore in self.chores:
            chore.run_if_due(self.clock())
        total = 0
        for _ in range(max_batches):
            claimed = self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """The ``gateway worker`` loop: drain, then wait ``poll_seconds`` (or until ``stop`` is set)."""
        log.info(f"outbox worker {self.worker_id} started")
        while not stop.is_set():
            try:
                self.drain()
            except Exception:
                log.exception(
                    f"outbox worker {self.worker_id}: a batch failed; retrying after the poll interval"
                )
            stop.wait(poll_seconds)
        log.info(f"outbox worker {self.worker_id} stopped")

    # -- claiming ------------------------------------------------------------------------------------------
    def _prepare(self, tx: Store, message: OutboxMessage, now: datetime) -> Job | None:
        job = Job(message.id, message.claim_id or "", message.org_id, message.kind, message.endpoint_id)
        try:
            if message.kind is MessageKind.EMAIL:
                return self._prepare_email(tx, message, job, now)
            return self._prepare_webhook(tx, message, job)
        except SealError as error:
            self._finish(tx, message, Outcome(ok=False, error=str(error), permanent=True), now)
            return None

    def _prepare_webhook(self, tx: Store, message: OutboxMessage, job: Job) -> Job:
        store = OutboxStore(tx)
        endpoint = store.endpoint(message.org_id, message.endpoint_id or "")
        event = store.event(message.event_pk or 0)
        assert endpoint is not None and event is not None, "cascading foreign keys keep these"
        job.url = endpoint.url
        if endpoint.id not in self._secrets:
            self._secrets[endpoint.id] = self.sealer.open(endpoint.sealed_secret)
        job.secret = self._secrets[endpoint.id]
        job.event_id = event.event_id
        job.body = json.dumps(event.payload, separators=(",", ":"), sort_keys=False)
        return job

    def _prepare_email(self, tx: Store, message: OutboxMessage, job: Job, now: datetime) -> Job | None:
        """The invitation email, or None (message cancelled) when the invitation is no longer pending or this
        message's link was replaced by a newer one."""
        invitation = tx.get(m.Invitation, message.org_id, message.invitation_id or "")
        status = invitation.status_at(now) if invitation else None
        token = self.sealer.open(message.sealed_token) if message.sealed_token else None
        reason = None
        if invitation is None or token is None:
            reason = "the invitation no longer exists"
        elif status is not m.InvitationStatus.PENDING:
            reason = f"the invitation is {status.value if status else 'gone'}"
        elif hash_token(token) != invitation.token_hash:
            reason = "superseded by a newer invitation email"
        if reason is not None:
            self._cancel(message, reason, now)
            return None
        assert invitation is not None and token is not None
        org = tx.org(message.org_id)
        org_name = org.name if org else "your organization"
        job.email = InvitationEmail(
            recipient=invitation.email,
            org_name=org_name,
            inviter=invitation.invited_by or f"An Admin of {org_name}",
            expires_at=invitation.expires_at,
            link=accept_link(self.public_url, token),
        ).render(self.mailer.sender)
        return job

    # -- sending -------------------------------------------------------------------------------------------
    def _send_all(self, jobs: list[Job]) -> list[tuple[Job, Outcome | None]]:
        """Send every job. Jobs of one endpoint go one after the other, in order; after a failure the rest of
        that endpoint's jobs are released unsent (outcome None). Endpoints and emails go in parallel."""
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            groups.setdefault(job.endpoint_id or job.message_id, []).append(job)
        if self.concurrency == 1 or len(groups) <= 1:
            return [pair for group in groups.values() for pair in self._send_in_order(group)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(groups))) as pool:
            return [pair for result in pool.map(self._send_in_order, groups.values()) for pair in result]

    def _send_in_order(self, group: list[Job]) -> list[tuple[Job, Outcome | None]]:
        """Send in order; release the rest after a failure, or once half the lease is spent (so a slow
        receiver can never keep a message past its lease, where another worker could claim it again)."""
        results: list[tuple[Job, Outcome | None]] = []
        failed = False
        deadline = time.monotonic() + self.lease.total_seconds() / 2
        for job in group:
            if failed or (results and time.monotonic() > deadline):
                results.append((job, None))
                continue
            outcome = self._send(job)
            results.append((job, outcome))
            failed = not outcome.ok
        return results

    def _send(self, job: Job) -> Outcome:
        if job.kind is MessageKind.WEBHOOK:
            result: SendResult = self.sender.send(
                job.url, job.secret, job.event_id, int(self.clock().timestamp()), job.body
            )
            return Outcome(result.ok, result.duration_ms, result.status_code, result.error)
        assert job.email is not None
        started = time.perf_counter()
        try:
            self.mailer.send(job.email)
        except MailError as error:
            return Outcome(False, _ms_since(started), error.status_code, str(error), error.permanent)
        except Exception as error:  # a mailer bug must not lose the message: retry it, log the cause
            log.exception(f"outbox: unexpected error sending email message {job.message_id}")
            return Outcome(False, _ms_since(started), None, f"unexpected error: {type(error).__name__}")
        return Outcome(True, _ms_since(started))

    # -- recording -----------------------------------------------------------------------------------------
    def _record(self, results: list[tuple[Job, Outcome | None]]) -> None:
        if not results:
            return
        with self.db.transaction() as tx:
            store = OutboxStore(tx)
            now = self.clock()
            held = store.claimed([job.message_id for job, _ in results], results[0][0].claim_id)
            for job, outcome in results:
                message = held.get(job.message_id)
                if message is None:
                    log.warning(
                        f"outbox: lease of message {job.message_id} ran out before its result was saved"
                    )
                    continue
                if outcome is None:
                    self._release(message, now)
                else:
                    self._finish(tx, message, outcome, now)

    def _finish(self, tx: Store, message: OutboxMessage, outcome: Outcome, now: datetime) -> None:
        tx.add(
            DeliveryAttempt(
                org_id=message.org_id,
                message_id=message.id,
                number=message.attempts,
                at=now,
                succeeded=outcome.ok,
                duration_ms=outcome.duration_ms,
                worker=self.worker_id,
                status_code=outcome.status_code,
                error=(outcome.error or None) and (outcome.error or "")[:500],
            )
        )
        message.claim_id = None
        message.claimed_until = None
        message.updated_at = now
        message.last_status_code = outcome.status_code
        if outcome.ok:
            message.status = MessageStatus.DELIVERED
            message.delivered_at = now
            message.last_error = None
            message.sealed_token = None
            log.info(f"outbox: {message.kind.value} message {message.id} delivered")
            record_delivery(message.kind.value, ok=True, dead=False)
            return
        message.last_error = (outcome.error or "failed")[:500]
        delay = None if outcome.permanent else self.retry[message.kind].delay(message.attempts)
        record_delivery(message.kind.value, ok=False, dead=delay is None)
        if delay is None:
            message.status = MessageStatus.DEAD
            log.warning(
                f"outbox: {message.kind.value} message {message.id} is dead after {message.attempts} attempts"
            )
            return
        message.status = MessageStatus.PENDING
        message.next_attempt_at = now + delay
        log.info(
            f"outbox: {message.kind.value} message {message.id} failed, retry in {delay.total_seconds():.0f}s"
        )

    @staticmethod
    def _release(message: OutboxMessage, now: datetime) -> None:
        """Give back a claimed message that was not tried (an earlier one of its endpoint failed)."""
        message.status = MessageStatus.PENDING
        message.claim_id = None
        message.claimed_until = None
        message.attempts = max(0, message.attempts - 1)
        message.updated_at = now

    @staticmethod
    def _cancel(message: OutboxMessage, reason: str, now: datetime) -> None:
        message.status = MessageStatus.CANCELLED
        message.sealed_token = None
        message.claim_id = None
        message.claimed_until = None
        message.last_error = reason
        message.attempts = max(0, message.attempts - 1)
        message.updated_at = now


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
