"""The outbox commands through Flask's CLI runner against the test app (both backends)."""

from __future__ import annotations

import json
import re
from typing import Any

from click.testing import Result
from flask import Flask

from gateway.cli import _load_commands, cli
from gateway.domain import model as m
from gateway.services import Services

from .conftest import CLI, Receiver

_load_commands()


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def run_json(app: Flask, *args: str) -> Any:
    result = run(app, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_webhook_commands_add_list_deliver_replay_and_remove(
    app: Flask, app_services: Services, receiver: Receiver
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    added = run_json(app, "webhook", "add", "acme", receiver.url, "--event", "member.created")
    assert added["secret"].startswith("whsec_") and added["event_types"] == ["member.created"]
    listed = run_json(app, "webhook", "list", "acme")
    assert [e["id"] for e in listed] == [added["id"]] and "secret" not in listed[0]

    app_services.members.add_admin(org.id, "admin@acme.test", CLI)
    receiver.fail_next = 1
    assert run_json(app, "worker", "--once")["claimed"] == 1
    [dead_or_pending] = run_json(app, "webhook", "deliveries", "acme", "--kind", "webhook")["deliveries"]
    assert dead_or_pending["status"] == "pending" and dead_or_pending["last_status_code"] == 500

    log = run_json(app, "webhook", "log", "acme", dead_or_pending["id"])
    assert [a["status_code"] for a in log["attempts_log"]] == [500]
    refused = run(app, "webhook", "replay", "acme", dead_or_pending["id"])
    assert refused.exit_code == 1 and "already queued" in refused.output

    events = run_json(app, "events", "acme", "--after", "0")
    assert [e["type"] for e in events["events"]] == ["member.created"] and events["next_cursor"] == 1

    removed = run_json(app, "webhook", "remove", "acme", added["id"])
    assert removed == {"id": added["id"], "removed": True}
    assert run_json(app, "webhook", "list", "acme") == []


def test_webhook_add_explains_a_bad_url(app: Flask, app_services: Services) -> None:
    app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI)
    result = run(app, "webhook", "add", "acme", "ftp://example.com/x", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "invalid_input"


def test_in_development_the_worker_mails_to_the_local_mailbox_the_console_shows(
    app: Flask, app_services: Services
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    issued = app_services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    assert run_json(app, "mailbox") == []
    run_json(app, "worker", "--once")
    [mail] = run_json(app, "mailbox")
    assert mail["to"] == "bob@acme.test" and "Acme" in mail["subject"]
    link = re.search(r"http://gateway\.test/invitations/accept\?token=\S+", mail["text"])
    assert link is not None and issued.token in link.group(0)
    human = run(app, "mailbox")
    assert "Subject:" in human.output and "bob@acme.test" in human.output
