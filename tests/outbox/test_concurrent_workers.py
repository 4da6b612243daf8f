"""Several workers against one database never send the same message twice: claims are row-locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite) and leased."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from gateway.domain import model as m
from gateway.outbox.worker import DeliveryWorker
from gateway.storage.db import Database
from gateway.storage.outbox_store import OutboxStore

from .conftest import CLI, Outbox, Receiver, SmtpServer


def run_together(workers: list[DeliveryWorker]) -> list[int]:
    """Start every worker's drain at the same moment; returns how many messages each one claimed."""
    start = threading.Barrier(len(workers))
    claimed = [0] * len(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            claimed[i] = workers[i].drain()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return claimed


def test_two_workers_never_send_the_same_email_or_webhook_twice(
    outbox: Outbox, db_url: str, smtp: SmtpServer, receiver: Receiver
) -> None:
    orgs = [outbox.org(f"Org {i}") for i in range(4)]
    for org in orgs:
        outbox.webhooks.create(org.id, receiver.url, CLI)
    invited = []
    for i in range(12):
        org = orgs[i % len(orgs)]
        email = f"person{i}@org{i % len(orgs)}.test"
        outbox.services.invitations.create(org.id, email, m.Role.MEMBER, CLI)
        invited.append(email)

    second_db = Database(db_url)  # another "process": its own engine and connection pool
    try:
        one = outbox.worker(smtp.mailer(), batch_size=2, worker_id="one")
        two = outbox.worker(smtp.mailer(), batch_size=2, worker_id="two")
        two.db = second_db
        claimed = run_together([one, two])
    finally:
        second_db.dispose()

    recipients = Counter(str(msg["To"]) for msg in smtp.inbox.messages)
    assert recipients == Counter(invited), "every invitation mailed exactly once"
    webhook_ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(webhook_ids) == 12 and set(webhook_ids.values()) == {1}, "every event posted exactly once"
    assert sum(claimed) == 24
    per_org: dict[str, list[int]] = {}
    for body in receiver.bodies():
        per_org.setdefault(body["organization"]["id"], []).append(body["sequence"])
    assert all(seqs == sorted(seqs) for seqs in per_org.values()), "in order per organization"


def test_a_message_whose_worker_died_is_claimed_again_after_its_lease(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, receiver.url, CLI)
    outbox.services.invitations.create(org.id, "a@acme.test", m.Role.MEMBER, CLI)
    crashed = outbox.worker(worker_id="crashed")
    with outbox.db.transaction() as tx:  # claim, then "crash" before sending
        now = outbox.clock()
        [claimed] = [
            msg
            for msg in OutboxStore(tx).claim_due(now, 10, "dead-claim", now + crashed.lease)
            if msg.kind.value == "webhook"
        ]
    healthy = outbox.worker(worker_id="healthy")
    healthy.drain()
    assert receiver.received == [], "leased to the crashed worker"
    outbox.clock.advance(seconds=crashed.lease.total_seconds() + 1)
    healthy.drain()
    assert len(receiver.received) == 1
    _, log = outbox.webhooks.delivery(org.id, claimed.id)
    assert [(a.worker, a.succeeded, a.number) for a in log] == [("healthy", True, 2)]


def test_run_forever_delivers_until_it_is_stopped(outbox: Outbox) -> None:
    org = outbox.org()
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    stop = threading.Event()

    class StopAfterOne:
        sender = "Gateway <no-reply@gateway.test>"
        sent: list[str] = []

        def send(self, message: Any) -> None:
            self.sent.append(str(message["To"]))
            stop.set()

    mailer = StopAfterOne()
    thread = threading.Thread(target=outbox.worker(mailer).run_forever, args=(stop, 30.0))
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and mailer.sent == ["bob@acme.test"]
