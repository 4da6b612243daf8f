"""The audit log (rule 10) with filters by action (``prefix*`` allowed), actor type, actor and target."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page
from gateway.console.guard import admin_page, viewer
from gateway.domain import model as m
from gateway.wiring import services

ACTOR_TYPES = [("", "Anyone"), *((a.value, a.value.replace("_", " ")) for a in m.ActorType)]


@bp.get("/audit")
@admin_page
def audit() -> ResponseReturnValue:
    args = {
        k: (request.args.get(k) or "").strip()[:200]
        for k in ("action", "actor_type", "actor_id", "target_id")
    }
    try:
        actor_type = m.ActorType(args["actor_type"]) if args["actor_type"] else None
    except ValueError:
        actor_type, args["actor_type"] = None, ""
    page = Page.from_request()
    events, total = services().audit.list(
        viewer().org.id,
        action=args["action"] or None,
        actor_type=actor_type,
        actor_id=args["actor_id"] or None,
        target_id=args["target_id"] or None,
        offset=page.offset,
        limit=page.size,
    )
    return render_template(
        "console/audit.html",
        title="Audit log",
        section="console.audit",
        events=events,
        page=page.with_total(total),
        args=args,
        actor_types=ACTOR_TYPES,
    )
