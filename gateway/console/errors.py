"""The console's one error mapper: every failure becomes a page that says what happened and what to do.

Form handlers catch the domain errors they expect and show them next to the field; anything that escapes a
view (an unknown id, a refused post, a bug) lands here.
"""

from __future__ import annotations

import logging

from flask import Response, g, make_response, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from gateway.console.blueprint import bp
from gateway.domain import errors as e

log = logging.getLogger(__name__)

DOMAIN_STATUS: dict[type[e.DomainError], int] = {
    e.NotFound: 404,
    e.Forbidden: 403,
    e.Unauthenticated: 401,
    e.InvalidInput: 400,
    e.Conflict: 409,
}

HTTP_TITLES = {
    400: "The request was refused",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
}


def domain_status(error: e.DomainError) -> int:
    for kind, status in DOMAIN_STATUS.items():
        if isinstance(error, kind):
            return status
    return 409


def error_page(status: int, title: str, message: str, code: str | None = None) -> ResponseReturnValue:
    html = render_template(
        "console/error.html", title=title, message=message, code=code, request_id=g.get("request_id")
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(e.DomainError)
def _domain_error(error: e.DomainError) -> ResponseReturnValue:
    return error_page(domain_status(error), "That did not work", error.message, error.code)


@bp.errorhandler(e.Unavailable)
def _unavailable(error: e.Unavailable) -> Response:
    response = make_response(
        error_page(
            503,
            "Briefly unavailable",
            "The database cannot be reached right now; try again in a few seconds.",
        )
    )
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    title = HTTP_TITLES.get(status, error.name)
    message = error.description or error.name
    if status == 404:
        message = "There is no such page in the console, or it belongs to another organization."
    return error_page(status, title, message)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> ResponseReturnValue:
    log.exception("unhandled error in the admin console", extra={"request_id": g.get("request_id")})
    return error_page(
        500, "Something went wrong", "An unexpected error occurred. Quote the request id when you report it."
    )
