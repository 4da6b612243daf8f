"""``gateway worker`` as a real process: the console script delivers a webhook to a loopback receiver and mails
an invitation into the development mailbox that ``gateway mailbox`` shows (SQLite, fresh instance folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from gateway.app import create_app
from gateway.domain import model as m
from gateway.settings import load_settings
from gateway.storage.migrate import upgrade

from .conftest import CLI, Receiver

GATEWAY = shutil.which("gateway", path=str(Path(sys.executable).parent)) or "gateway"


def gateway(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run([GATEWAY, *args, "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_worker_process_delivers_webhooks_and_invitation_emails(
    tmp_path: Path, receiver: Receiver
) -> None:
    instance = tmp_path / "instance"
    env = {
        **os.environ,
        "GATEWAY_INSTANCE_PATH": str(instance),
        "GATEWAY_DATABASE_URL": "",
        "GATEWAY_ENV": "development",
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:8000",
        "GATEWAY_SMTP_HOST": "",
    }
    settings = load_settings({"instance_path": str(instance)}, environ=env)
    upgrade(settings.database_url)
    app = create_app(settings=settings)
    services = app.extensions["gateway.services"]
    org = services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    secret = services.webhooks.create(org.id, receiver.url, CLI).secret
    issued = services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    services.db.dispose()

    assert gateway(env, "worker", "--once")["claimed"] == 2
    [event] = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
    assert event["type"] == "invitation.sent" and event["data"]["invitation"]["email"] == "bob@acme.test"
    [mail] = gateway(env, "mailbox")
    assert mail["to"] == "bob@acme.test"
    assert f"http://127.0.0.1:8000/invitations/accept?token={issued.token}" in mail["text"]
