"""``/healthz`` (the process answers) and ``/readyz`` (the database answers and its schema is at the revision
this code needs, or a newer one during a rolling upgrade: a load balancer must not send traffic to a process
whose every request would fail)."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.storage.migrate import head_revision, known_revisions, schema_revision, schema_state
from gateway.wiring import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@functools.cache
def _revisions() -> tuple[str | None, frozenset[str]]:
    return head_revision(), frozenset(known_revisions())


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


def _schema_revision() -> str | None:
    """The database's schema revision, asked again once on a fresh connection when the pooled one turned out
    dead (the server restarted or failed over): SQLAlchemy then drops the pool's connections, so the answer is
    the database's, not a stale connection's. A process that served nothing since the database came back
    would otherwise report itself unready once."""
    engine = services().db.engine
    try:
        return schema_revision(engine)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        return schema_revision(engine)


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    try:
        current = _schema_revision()
    except SQLAlchemyError:
        log.warning("database not ready", exc_info=True)
        return jsonify(status="unavailable", checks={"database": "unreachable"}), 503
    head, known = _revisions()
    state = schema_state(current, head, set(known))
    if state == "behind":
        body = {
            "status": "unavailable",
            "checks": {"database": "ok", "schema": "not_migrated"},
            "detail": f"The database schema is at {current or 'no revision'}; this code needs {head}. "
            "Run: gateway db upgrade",
        }
        return jsonify(body), 503
    schema = "ok" if state == "current" else "ahead"
    return jsonify(status="ok", checks={"database": "ok", "schema": schema}, revision=current)
