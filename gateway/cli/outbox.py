"""Outbox commands: the delivery worker, webhook endpoints and their deliveries, the event feed, and the
development mailbox."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.outbox.events import EVENT_TYPES
from gateway.settings import SettingsError
from gateway.storage.outbox_tables import (
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboxEvent,
    OutboxMessage,
    WebhookEndpoint,
)
from gateway.wiring import services, settings

CLI_ACTOR = m.Actor.cli()
STATUSES = click.Choice([s.value for s in MessageStatus])
KINDS = click.Choice([k.value for k in MessageKind])


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "org_id": endpoint.org_id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types) or ["*"],
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "created_at": _iso(endpoint.created_at),
        "created_by": endpoint.created_by,
    }


def delivery_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind.value,
        "status": message.status.value,
        "event_type": message.event_type,
        "sequence": message.seq,
        "endpoint_id": message.endpoint_id,
        "invitation_id": message.invitation_id,
        "attempts": message.attempts,
        "next_attempt_at": _iso(message.next_attempt_at),
        "last_error": message.last_error,
        "last_status_code": message.last_status_code,
        "created_at": _iso(message.created_at),
        "delivered_at": _iso(message.delivered_at),
    }


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": _iso(attempt.at),
        "succeeded": attempt.succeeded,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "worker": attempt.worker,
    }


def event_json(event: OutboxEvent) -> dict[str, Any]:
    return dict(event.payload)


# -- the worker --------------------------------------------------------------------------------------------
@cli.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--poll", "poll_seconds", type=float, default=1.0, show_default=True, help="Idle wait, seconds."
)
@click.option("--batch", "batch_size", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel sends."
)
@json_option
@with_appcontext
@handles_errors
def worker(once: bool, poll_seconds: float, batch_size: int, concurrency: int, as_json: bool) -> None:
    """Deliver invitation emails and webhooks from the outbox (run one or more, next to `gateway serve`)."""
    from gateway.outbox import build_worker

    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        delivery = build_worker(app, batch_size=batch_size, concurrency=concurrency)
    except SettingsError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    if once:
        claimed = delivery.drain()
        emit(as_json, {"worker": delivery.worker_id, "claimed": claimed}, f"Processed {claimed} message(s).")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Outbox worker {delivery.worker_id} running (Ctrl-C to stop).", err=True)
    delivery.run_forever(stop, poll_seconds)


@cli.group()
def outbox() -> None:
    """Outbox maintenance."""


@outbox.command("purge")
@click.option("--older-than-days", type=click.IntRange(0), default=30, show_default=True)
@json_option
@with_appcontext
@handles_errors
def outbox_purge(older_than_days: int, as_json: bool) -> None:
    """Delete delivered and cancelled deliveries (and their log) older than the retention; dead ones stay."""
    purged = services().webhooks.purge_finished(timedelta(days=older_than_days))
    emit(as_json, {"purged": purged}, f"Purged {purged} finished deliveries.")


# -- webhooks ----------------------------------------------------------------------------------------------
@cli.group()
def webhook() -> None:
    """Webhook endpoints of an organization, their deliveries, replay."""


@webhook.command("add")
@click.argument("org")
@click.argument("url")
@click.option(
    "--event",
    "event_types",
    multiple=True,
    help=f"Event type to send (repeatable; default all): {', '.join(EVENT_TYPES)}.",
)
@click.option("--description", default="", help="A note for Admins.")
@json_option
@with_appcontext
@handles_errors
def webhook_add(org: str, url: str, event_types: tuple[str, ...], description: str, as_json: bool) -> None:
    """Send ORG's membership events to URL. The signing secret is shown once."""
    svc = services()
    issued = svc.webhooks.create(
        svc.orgs.resolve(org).id, url, CLI_ACTOR, event_types=event_types, description=description
    )
    data = {**endpoint_json(issued.endpoint), "secret": issued.secret}
    emit(
        as_json,
        data,
        f"Webhook {issued.endpoint.id} -> {issued.endpoint.url}\n"
        f"Signing secret (shown once, store it now):\n{issued.secret}",
    )


@webhook.command("list")
@click.argument("org")
@json_option
@with_appcontext
@handles_errors
def webhook_list(org: str, as_json: bool) -> None:
    """List ORG's webhook endpoints."""
    svc = services()
    endpoints = svc.webhooks.list(svc.orgs.resolve(org).id)
    lines = [
        f"{e.id}\t{'enabled' if e.enabled else 'disabled'}\t{e.url}\t{','.join(e.event_types) or '*'}"
        for e in endpoints
    ]
    emit(as_json, [endpoint_json(e) for e in endpoints], "\n".join(lines) or "No webhook endpoints.")


@webhook.command("update")
@click.argument("org")
@click.argument("endpoint_id")
@click.option("--url", help="New URL.")
@click.option(
    "--event", "event_types", multiple=True, help="Replace the subscribed event types ('*' for all)."
)
@click.option("--description")
@click.option("--enable/--disable", "enabled", default=None, help="Resume or pause deliveries.")
@json_option
@with_appcontext
@handles_errors
def webhook_update(
    org: str,
    endpoint_id: str,
    url: str | None,
    event_types: tuple[str, ...],
    description: str | None,
    enabled: bool | None,
    as_json: bool,
) -> None:
    """Change a webhook endpoint; a disabled endpoint keeps its queued events until enabled again."""
    svc = services()
    endpoint = svc.webhooks.update(
        svc.orgs.resolve(org).id, endpoint_id, CLI_ACTOR, url=url,
        event_types=event_types or None, description=description, enabled=enabled,
    )  # fmt: skip
    emit(as_json, endpoint_json(endpoint), f"Webhook {endpoint.id} updated.")


@webhook.command("rotate-secret")
@click.argument("org")
@click.argument("endpoint_id")
@json_option
@with_appcontext
@handles_errors
def webhook_rotate(org: str, endpoint_id: str, as_json: bool) -> None:
    """Issue a new signing secret for a webhook endpoint (shown once)."""
    svc = services()
    issued = svc.webhooks.rotate_secret(svc.orgs.resolve(org).id, endpoint_id, CLI_ACTOR)
    emit(
        as_json,
        {**endpoint_json(issued.endpoint), "secret": issued.secret},
        f"New signing secret (shown once, store it now):\n{issued.secret}",
    )


@webhook.command("remove")
@click.argument("org")
@click.argument("endpoint_id")
@json_option
@with_appcontext
@handles_errors
def webhook_remove(org: str, endpoint_id: str, as_json: bool) -> None:
    """Remove a webhook endpoint with its queued deliveries."""
    svc = services()
    svc.webhooks.remove(svc.orgs.resolve(org).id, endpoint_id, CLI_ACTOR)
    emit(as_json, {"id": endpoint_id, "removed": True}, f"Webhook {endpoint_id} removed.")


@webhook.command("deliveries")
@click.argument("org")
@click.option("--status", type=STATUSES, help="Only deliveries in this state (e.g. dead).")
@click.option("--kind", type=KINDS, help="Only webhooks or only emails.")
@click.option("--endpoint", "endpoint_id", help="Only this endpoint's deliveries.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@with_appcontext
@handles_errors
def webhook_deliveries(
    org: str, status: str | None, kind: str | None, endpoint_id: str | None, limit: int, as_json: bool
) -> None:
    """ORG's outbox deliveries (webhooks and invitation emails), newest first."""
    svc = services()
    messages, total = svc.webhooks.deliveries(
        svc.orgs.resolve(org).id,
        status=MessageStatus(status) if status else None,
        kind=MessageKind(kind) if kind else None,
        endpoint_id=endpoint_id,
        limit=limit,
    )
    lines = [
        f"{d.id}\t{d.kind.value}\t{d.status.value}\t{d.event_type}\tattempts={d.attempts}\t{d.last_error or ''}"
        for d in messages
    ]
    emit(
        as_json,
        {"total": total, "deliveries": [delivery_json(d) for d in messages]},
        "\n".join(lines) or "No deliveries.",
    )


@webhook.command("log")
@click.argument("org")
@click.argument("delivery_id")
@json_option
@with_appcontext
@handles_errors
def webhook_log(org: str, delivery_id: str, as_json: bool) -> None:
    """One delivery with every attempt made."""
    svc = services()
    message, attempts = svc.webhooks.delivery(svc.orgs.resolve(org).id, delivery_id)
    lines = [
        f"#{a.number}\t{a.at:%Y-%m-%d %H:%M:%S}\t{'ok' if a.succeeded else 'failed'}\t"
        f"{a.status_code or ''}\t{a.error or ''}"
        for a in attempts
    ]
    emit(
        as_json,
        {**delivery_json(message), "attempts_log": [attempt_json(a) for a in attempts]},
        f"{message.id} {message.status.value}\n" + ("\n".join(lines) or "No attempts yet."),
    )


@webhook.command("replay")
@click.argument("org")
@click.argument("delivery_id", required=False)
@click.option("--all-dead", is_flag=True, help="Replay every dead delivery of ORG.")
@json_option
@with_appcontext
@handles_errors
def webhook_replay(org: str, delivery_id: str | None, all_dead: bool, as_json: bool) -> None:
    """Queue a delivery again (a dead or delivered webhook, or a dead invitation email)."""
    svc = services()
    org_id = svc.orgs.resolve(org).id
    if all_dead == bool(delivery_id):
        click.echo("Error: give either a DELIVERY_ID or --all-dead.", err=True)
        sys.exit(2)
    if all_dead:
        count = svc.webhooks.replay_dead(org_id, CLI_ACTOR)
        emit(as_json, {"replayed": count}, f"{count} dead deliveries queued again.")
        return
    message = svc.webhooks.replay(org_id, delivery_id or "", CLI_ACTOR)
    emit(as_json, delivery_json(message), f"Delivery {message.id} queued again.")


@cli.command()
@click.argument("org")
@click.option(
    "--after", type=click.IntRange(0), default=0, show_default=True, help="Cursor: last sequence seen."
)
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@json_option
@with_appcontext
@handles_errors
def events(org: str, after: int, limit: int, as_json: bool) -> None:
    """ORG's membership events after a cursor, in order (what GET /api/v1/events returns)."""
    svc = services()
    page = svc.webhooks.events(svc.orgs.resolve(org).id, after=after, limit=limit)
    lines = [f"{e.seq}\t{e.occurred_at:%Y-%m-%d %H:%M:%S}\t{e.type}\t{e.event_id}" for e in page.events]
    emit(
        as_json,
        {"events": [event_json(e) for e in page.events], "next_cursor": page.next_cursor},
        "\n".join(lines) or "No events.",
    )


# -- the development mailbox -------------------------------------------------------------------------------
@cli.command()
@click.option("--last", type=click.IntRange(1), default=10, show_default=True, help="How many emails.")
@json_option
@with_appcontext
@handles_errors
def mailbox(last: int, as_json: bool) -> None:
    """Show the emails of the development mailbox (used when no SMTP host is configured)."""
    from gateway.outbox.mailer import MailboxMailer, mailbox_path

    messages = MailboxMailer(mailbox_path(settings()), "").messages()[-last:]
    data = []
    for message in messages:
        text = message.get_body(preferencelist=("plain",))
        data.append(
            {
                "to": message["To"],
                "from": message["From"],
                "subject": message["Subject"],
                "date": message["Date"],
                "text": text.get_content() if text is not None else "",
            }
        )
    human = "\n\n".join(
        f"To: {d['to']}\nSubject: {d['subject']}\nDate: {d['date']}\n\n{d['text']}" for d in data
    )
    emit(as_json, data, human or "The development mailbox is empty.")
