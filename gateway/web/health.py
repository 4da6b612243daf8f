"""``/healthz`` (the process answers) and ``/readyz`` (the database answers too)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from gateway.wiring import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    try:
        services().db.ping()
    except SQLAlchemyError:
        logging.getLogger(__name__).exception("database not ready")
        return jsonify(status="unavailable", checks={"database": "unreachable"}), 503
    return jsonify(status="ok", checks={"database": "ok"})
