"""The shared web endpoints' answer while the database is away: ``/login`` (and the platform and invitation
sign-in pages on the same blueprint) show a page that says to try again; ``/me`` and ``/logout`` answer JSON.
Both are 503 with ``Retry-After``. Imported by ``create_app`` before the blueprints are registered."""

from __future__ import annotations

from flask import Response, jsonify

from gateway.domain.errors import Unavailable
from gateway.web.account import bp as account_bp
from gateway.web.login import bp as login_bp
from gateway.web.signin import unavailable_page


@login_bp.errorhandler(Unavailable)
def _login_unavailable(error: Unavailable) -> Response:
    return unavailable_page(error)


@account_bp.errorhandler(Unavailable)
def _account_unavailable(error: Unavailable) -> Response:
    response = jsonify(error="unavailable", detail=error.message)
    response.status_code = 503
    response.headers["Retry-After"] = str(error.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response
