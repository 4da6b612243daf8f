"""Outbox throughput: webhook events delivered per second with 1 and 2 delivery workers.

Creates a fresh database, ORGS organizations each with one webhook endpoint pointing at a local HTTP receiver
(answers 204 at once), writes EVENTS membership changes through the services (so the outbox writer queues them
exactly as in production), then runs 1 and then 2 worker processes until every message is delivered, resetting
the queue in between. Delivery is in order per endpoint, so one endpoint never has more than one request in
flight; parallelism comes from many endpoints (organizations) and several workers.

    .venv/bin/python bench/outbox_bench.py                       # SQLite file in a temp dir
    .venv/bin/python bench/outbox_bench.py --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.outbox.sealing import Sealer
from gateway.outbox.webhook_sender import WebhookSender
from gateway.outbox.worker import DeliveryWorker
from gateway.outbox.writer import OutboxWriter
from gateway.services import Services
from gateway.services.webhooks import WebhookService
from gateway.storage.db import Database
from gateway.storage.outbox_tables import MessageStatus, outbox_messages

SECRET = "bench-secret-key"
CLI = m.Actor.cli()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with Receiver.lock:
            Receiver.count += 1
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def fresh_database(url: str | None) -> tuple[str, callable]:  # type: ignore[valid-type]
    if url is None or url.startswith("sqlite"):
        path = os.path.join(tempfile.mkdtemp(), "bench.db")
        return f"sqlite:///{path}", lambda: None
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return sa.make_url(url).set(database=name).render_as_string(hide_password=False), drop


def seed(url: str, orgs: int, events: int, receiver_url: str) -> None:
    db = Database(url)
    db.create_all()
    services = Services(db)
    sealer = Sealer(SECRET)
    services.listeners.append(OutboxWriter(sealer, services.clock))
    hooks = WebhookService(
        db,
        services.clock,
        services.orgs.tokens,
        services.listeners,
        sealer=sealer,
        allow_private_targets=True,
    )
    org_ids = []
    for i in range(orgs):
        org = services.orgs.create(f"Bench {i}", m.MembershipMode.INVITATION, CLI).org
        hooks.create(org.id, receiver_url, CLI)
        org_ids.append(org.id)
    for i in range(events):
        services.members.add_admin(org_ids[i % orgs], f"person{i}@bench{i % orgs}.test", CLI)
    db.dispose()


def reset(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM delivery_attempts"))
        result = conn.execute(
            outbox_messages.update().values(
                status=MessageStatus.PENDING.value, attempts=0, claim_id=None, claimed_until=None,
                delivered_at=None, next_attempt_at=sa.func.current_timestamp(),
            )
        )  # fmt: skip
    engine.dispose()
    return int(result.rowcount or 0)


def open_messages(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_messages)
            .where(outbox_messages.c.status.in_(["pending", "sending"]))
        )
    engine.dispose()
    return int(n or 0)


def work(url: str, batch: int, concurrency: int, start: mp.Event, done: mp.Event) -> None:  # type: ignore[valid-type]
    db = Database(url)
    worker = DeliveryWorker(
        db, clock=Services(db).clock, mailer=None, sender=WebhookSender(allow_private=True),  # type: ignore[arg-type]
        sealer=Sealer(SECRET), public_url="http://bench.test", batch_size=batch, concurrency=concurrency,
    )  # fmt: skip
    start.wait()
    while not done.is_set():
        if worker.drain() == 0:
            time.sleep(0.005)
    db.dispose()


def run(url: str, workers: int, batch: int, concurrency: int, total: int) -> float:
    reset(url)
    Receiver.count = 0
    start, done = mp.Event(), mp.Event()
    procs = [mp.Process(target=work, args=(url, batch, concurrency, start, done)) for _ in range(workers)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let the processes import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    while Receiver.count < total or open_messages(url):
        time.sleep(0.01)
    elapsed = time.perf_counter() - began
    done.set()
    for p in procs:
        p.join()
    assert Receiver.count == total, f"expected {total} deliveries, got {Receiver.count} (duplicates?)"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database", help="server URL (PostgreSQL: a scratch database is created); default SQLite"
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--orgs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4, help="parallel sends per worker")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    url, drop = fresh_database(args.database)
    try:
        began = time.perf_counter()
        seed(url, args.orgs, args.events, receiver_url)
        write_rate = args.events / (time.perf_counter() - began)
        print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}, {sa.make_url(url).get_backend_name()}")  # fmt: skip
        print(f"writing: {args.events} membership changes with their outbox rows, {write_rate:.0f}/s")
        for workers in (1, 2):
            elapsed = run(url, workers, args.batch, args.concurrency, args.events)
            print(
                f"{workers} worker(s): {args.events} webhooks to {args.orgs} endpoints in {elapsed:.2f}s "
                f"= {args.events / elapsed:.0f} events/s (batch {args.batch}, {args.concurrency} parallel sends)"
            )
    finally:
        server.shutdown()
        drop()


if __name__ == "__main__":
    main()
