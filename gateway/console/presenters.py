"""How values look on the console's pages (dates, audit lines, the accept link), offered to every template."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import g

from gateway.console.blueprint import bp
from gateway.domain import model as m
from gateway.wiring import services, settings


def when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def invitation_status(invitation: m.Invitation) -> str:
    return invitation.status_at(services().clock()).value


def accept_url(token: str) -> str:
    return settings().url(f"/invitations/accept?token={quote(token, safe='')}")


def actor_text(event: m.AuditEvent) -> str:
    label = event.actor_label or event.actor_id or ""
    return f"{event.actor_type.value.replace('_', ' ')} {label}".strip()


def event_details(event: m.AuditEvent) -> str:
    """The interesting details of an audit event on one line (lists shortened to their length)."""
    parts: list[str] = []
    for key, value in (event.details or {}).items():
        if value in (None, "", [], {}):
            continue
        shown: Any = len(value) if isinstance(value, list) else value
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    """Helpers visible to the console's templates only (a blueprint context processor, not app-wide)."""
    return {
        "me": g.get("console_viewer"),
        "when": when,
        "invitation_status": invitation_status,
        "actor_text": actor_text,
        "event_details": event_details,
    }
