"""The audit trail (rule 10), newest first."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_query
from gateway.api.paging import Paging
from gateway.api.schemas import AuditQuery
from gateway.wiring import services


@bp.get("/audit-events")
@access(Access.ADMIN)
def list_audit_events() -> ResponseReturnValue:
    """Admin-only: the trail names other people and the addresses they came from. Filters: ``actor_type``, ``actor_id``, ``target_id``, ``action`` (exact, or a prefix ending in ``*``).
    ``?cursor=`` pages by keyset without a total (see ``gateway.api.paging``)."""
    query = load_query(AuditQuery())
    paging = Paging.of(query)
    items, total = services().audit.list(
        principal().org.id,
        actor_type=query.get("actor_type"),
        actor_id=query.get("actor_id"),
        action=query.get("action"),
        target_id=query.get("target_id"),
        offset=paging.offset,
        limit=paging.limit,
        after=paging.after(datetime, int),
    )
    return jsonify(paging.body(items, total, out.audit_event, key=lambda x: (x.at, x.id)))
