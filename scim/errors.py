"""The one place where errors become SCIM Error responses (RFC 7644 section 3.12): ``schemas``, ``status`` as
a string, ``scimType`` where the RFC defines one, and a ``detail`` that says what to fix.

An address whose account belongs to another organization is ``409 uniqueness`` (the value is in use), and its
``detail`` says the way forward (rule 12): an Admin of this organization requests the account's migration, in
the console or over the admin API, and the IdP sends the user again once it is applied. Like the invitation and
sign-in refusals it says nothing about the other organization."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response
from werkzeug.exceptions import HTTPException

from gateway.domain import errors as e
from gateway.domain.groups import InvalidFilter, VersionMismatch
from gateway.observability import request_id
from gateway.services.cursors import ExpiredCursor, InvalidCursor
from gateway.wiring import settings
from scim.filter import InvalidPath
from scim.request_log import remember_refusal
from scim.schema import ERROR_URN, InvalidSyntax, InvalidValue, MutabilityError, NoTarget

SCIM_JSON = "application/scim+json"
log = logging.getLogger("scim")


class ScimError(Exception):
    """An error the adapter raises itself (unknown endpoint, bad parameter, ...)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


# (domain error class, HTTP status, scimType); the first matching entry wins, so subclasses come first.
_MAPPING: list[tuple[type[Exception], int, str | None]] = [
    (InvalidPath, 400, "invalidPath"),
    (InvalidFilter, 400, "invalidFilter"),
    (InvalidSyntax, 400, "invalidSyntax"),
    (MutabilityError, 400, "mutability"),
    (NoTarget, 400, "noTarget"),
    (InvalidValue, 400, "invalidValue"),
    (ExpiredCursor, 400, "expiredCursor"),
    (InvalidCursor, 400, "invalidCursor"),
    (VersionMismatch, 412, None),
    (e.AccountInOtherOrganization, 409, "uniqueness"),
    (e.Conflict, 409, "uniqueness"),
    (e.LastAdmin, 409, None),
    (e.ModeForbids, 403, None),
    (e.EmailBlocked, 403, None),
    (e.Unauthenticated, 401, None),
    (e.RateLimited, 429, None),
    (e.Forbidden, 403, None),
    (e.NotFound, 404, None),
    (e.MemberInactive, 409, None),
    (e.InvalidInput, 400, "invalidValue"),
    (e.Unavailable, 503, None),
]


MIGRATIONS_PAGE = "/admin/migrations"
MIGRATIONS_API = "/api/v1/account-migrations"


def migration_hint() -> str:
    """What the target organization's Admin does about an account that belongs to another organization."""
    config = settings()
    return (
        "An Admin of this organization can request the migration: Request migration next to this request in "
        f"the SCIM request log, or {config.url(MIGRATIONS_PAGE)}, or POST {config.url(MIGRATIONS_API)}. "
        "Send the user again once the migration is applied."
    )


def _detail(error: Exception) -> str:
    message = getattr(error, "message", str(error))
    if isinstance(error, e.AccountInOtherOrganization):
        return f"{message} {migration_hint()}"
    return message


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def describe(error: Exception) -> tuple[int, str, str | None]:
    """(status, detail, scimType) for any exception; unexpected ones are logged and answered generically."""
    if isinstance(error, ScimError):
        return error.status, error.detail, error.scim_type
    if isinstance(error, HTTPException):
        status = error.code or 500
        if status == 413:
            return 413, "The request body is larger than the server accepts (see maxPayloadSize).", None
        return status, error.description or error.name, None
    for cls, status, scim_type in _MAPPING:
        if isinstance(error, cls):
            return status, _detail(error), scim_type
    if isinstance(error, e.DomainError):
        return 400, error.message, None
    log.exception("unexpected error in SCIM request", extra={"request_id": request_id()})
    return 500, "The server could not complete the request; it has been logged.", None


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body) if body is not None else b"", status=status)
    if body is not None:
        response.headers["Content-Type"] = SCIM_JSON
    else:
        del response.headers["Content-Type"]
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error: Exception) -> Response:
    remember_refusal(error)
    status, detail, scim_type = describe(error)
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else {}
    if isinstance(error, e.RateLimited | e.Unavailable):
        headers["Retry-After"] = str(error.retry_after)
    return scim_response(error_body(status, detail, scim_type), status, headers)
