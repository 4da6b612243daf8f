"""The audit trail (rule 10), newest first."""

from __future__ import annotations

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
    """Admin-only: the trail names other people and the addresses they came from. Filters: ``actor_type``, ``actor_id``, ``target_id``, ``action`` (exact, or a prefix ending in ``*``)."""
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
    )
    return jsonify(paging.body(items, total, out.audit_event))
