"""``/healthz`` (the process answers) and ``/readyz`` (the database answers and its schema is at the revision
this code needs: a load balancer must not send traffic to a process whose every request would fail)."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from gateway.storage.migrate import head_revision, schema_revision
from gateway.wiring import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@functools.cache
def _head() -> str | None:
    return head_revision()


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    try:
        current = schema_revision(services().db.engine)
    except SQLAlchemyError:
        log.warning("database not ready", exc_info=True)
        return jsonify(status="unavailable", checks={"database": "unreachable"}), 503
    head = _head()
    if current != head:
        body = {
            "status": "unavailable",
            "checks": {"database": "ok", "schema": "not_migrated"},
            "detail": f"The database schema is at {current or 'no revision'}; this code needs {head}. "
            "Run: gateway db upgrade",
        }
        return jsonify(body), 503
    return jsonify(status="ok", checks={"database": "ok", "schema": "ok"}, revision=current)
