"""SSO connections as the organization core sees them: list, enable, disable. Their protocol settings
(certificates, client secrets) belong to the SAML and OIDC adapters and are never returned here."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_query
from gateway.api.paging import PageQuery, Paging
from gateway.wiring import services


@bp.get("/connections")
@access(Access.ADMIN)
def list_connections() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().connections.list(principal().org.id))
    return jsonify(paging.body(items, total, out.connection))


@bp.post("/connections/<connection_id>/enable")
@access(Access.ADMIN)
def enable_connection(connection_id: str) -> ResponseReturnValue:
    caller = principal()
    connection = services().connections.set_enabled(caller.org.id, connection_id, True, caller.actor())
    return jsonify(out.connection(connection))


@bp.post("/connections/<connection_id>/disable")
@access(Access.ADMIN)
def disable_connection(connection_id: str) -> ResponseReturnValue:
    caller = principal()
    connection = services().connections.set_enabled(caller.org.id, connection_id, False, caller.actor())
    return jsonify(out.connection(connection))
