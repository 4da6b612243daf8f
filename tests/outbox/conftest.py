"""Outbox fixtures: services with the outbox writer installed, a delivery-worker factory, a real SMTP server on
loopback (aiosmtpd) and a real webhook receiver on loopback, both recording what they got."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.domain import model as m
from gateway.outbox.expiry import InvitationExpiry
from gateway.outbox.mailer import EmailConfig, SmtpMailer
from gateway.outbox.retry import RetryPolicy
from gateway.outbox.sealing import Sealer
from gateway.outbox.webhook_sender import WebhookSender
from gateway.outbox.worker import DeliveryWorker
from gateway.outbox.writer import OutboxWriter
from gateway.services import Services
from gateway.services.webhooks import WebhookService
from gateway.storage.db import Database

PUBLIC_URL = "http://gateway.test"
CLI = m.Actor.cli()
FAST = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=16), max_attempts=5, jitter=0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- services with the outbox ----------------------------------------------------------------------------------
@dataclass
class Outbox:
    db: Database
    clock: Any
    services: Services
    sealer: Sealer
    webhooks: WebhookService

    def worker(self, mailer: Any = None, **options: Any) -> DeliveryWorker:
        options.setdefault("webhook_retry", FAST)
        options.setdefault("email_retry", FAST)
        options.setdefault("concurrency", 1)
        options.setdefault(
            "expiry",
            InvitationExpiry(self.db, self.clock, self.services.orgs.tokens, self.services.listeners),
        )
        return DeliveryWorker(
            self.db,
            clock=self.clock,
            mailer=mailer or RecordingMailer(),
            sender=WebhookSender(allow_private=True, timeout=5),
            sealer=self.sealer,
            public_url=PUBLIC_URL,
            **options,
        )

    def org(self, name: str = "Acme", mode: m.MembershipMode = m.MembershipMode.INVITATION) -> m.Organization:
        return self.services.orgs.create(name, mode, CLI).org


@pytest.fixture
def wall(clock: Any) -> Any:
    """The test clock moved to real time: Standard Webhooks receivers refuse timestamps more than 5 minutes
    off. Tests move it further by hand (``advance``), by seconds."""
    clock.now = datetime.now(UTC).replace(microsecond=0)
    return clock


@pytest.fixture
def outbox(db: Database, wall: Any) -> Outbox:
    services = Services(db, clock=wall)
    sealer = Sealer("outbox-test-secret-key")
    services.listeners.append(OutboxWriter(sealer, wall))
    webhooks = WebhookService(
        db, wall, services.orgs.tokens, services.listeners, sealer=sealer, allow_private_targets=True
    )
    return Outbox(db, wall, services, sealer, webhooks)


class RecordingMailer:
    sender = "Gateway <no-reply@gateway.test>"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


# -- a real SMTP server --------------------------------------------------------------------------------------
class Inbox:
    """aiosmtpd handler: every message received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox = field(default_factory=Inbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(
            EmailConfig(
                host="127.0.0.1", port=self.port, security="none", sender="Gateway <no-reply@gateway.test>"
            )
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


# -- a real webhook receiver ---------------------------------------------------------------------------------
@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on loopback that records every POST; ``fail_next`` requests are answered with 500."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.fail_next = 0
        self.status_for: Callable[[Received], int] | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with receiver.lock:
                    receiver.received.append(request)
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        status = 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
