"""Records every SCIM request in the organization's SCIM request log, refused ones included.

A SCIM answer is logged from inside the request's transaction (``logged_in_request``: one more INSERT in the
same transaction for a write, a short transaction right after it for a read); a refused request, whose
transaction rolled back, is logged by the blueprint's ``after_request`` hook in a transaction of its own. A request whose token names no organization (missing or unknown token) has no log to go to.
A failure to log is logged, never raised.

Each operation of a Bulk request is a request of its own (its own transaction): a refused one is logged as an
entry of its own (its method and path under the SCIM base, the Bulk request's id) next to the Bulk request's.

A push refused because the address's account belongs to another organization (``account_in_other_organization``)
keeps that address in its entry (``migration_email``), so the organization's Admin can request the account's
migration from the log. The address is the organization's own request; nothing about the other organization is
recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Response, g, request

from gateway.domain.errors import AccountInOtherOrganization, InvalidInput
from gateway.domain.groups import email_from_identity
from gateway.domain.policy import normalize_email
from gateway.observability import request_id
from gateway.services.scim_log import ScimRequestEntry
from gateway.wiring import services
from scim.representation import user_record
from scim.schema import USERS, canonical_document

log = logging.getLogger(__name__)
MAX_ERROR_BODY = 8192
_USER_WRITES = ("POST", "PUT")


@dataclass(frozen=True)
class RefusedOperation:
    """A refused operation of a Bulk request, kept until the Bulk request is logged."""

    method: str
    path: str
    status: int
    scim_type: str | None
    detail: str
    migration_email: str | None


def _error_fields(response: Response) -> tuple[str | None, str | None]:
    """``scimType`` and ``detail`` of a SCIM error body (small, already in memory)."""
    if response.status_code < 400 or response.direct_passthrough:
        return None, None
    raw = response.get_data()
    if len(raw) > MAX_ERROR_BODY:
        return None, None
    try:
        body = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    scim_type, detail = body.get("scimType"), body.get("detail")
    return (str(scim_type) if scim_type else None), (str(detail) if detail else None)


# -- the address a migration can be requested for ----------------------------------------------------------
def migration_email(error: Exception, method: str, body: Any) -> str | None:
    """The address of a push refused because its account belongs to another organization, else ``None``.

    The service names the address when it refuses an email change (PUT, PATCH); a new user (POST) is refused
    by the database's unique index, so the address is read from the body the way the service picks it."""
    if not isinstance(error, AccountInOtherOrganization):
        return None
    email = error.details.get("email")
    if not isinstance(email, str) and method.upper() in _USER_WRITES:
        email = _user_email(body)
    if not isinstance(email, str):
        return None
    try:
        return normalize_email(email)
    except InvalidInput:
        return None


def _user_email(body: Any) -> str | None:
    try:
        record = user_record(canonical_document(USERS, body))
    except InvalidInput:
        return None
    return email_from_identity(record.emails, record.user_name)


def _request_body() -> Any:
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        return None


def remember_refusal(error: Exception) -> None:
    """Called by the error mapper for a refused request: keep what its log entry needs beyond the answer."""
    if isinstance(error, AccountInOtherOrganization):
        g.scim_migration_email = migration_email(error, request.method, _request_body())


def remember_bulk_refusal(
    operation: dict[str, Any], error: Exception, described: tuple[int, str, str | None]
) -> None:
    """Keep a refused Bulk operation (its fields by lower-cased name, and the error's ``(status, detail,
    scimType)``) for the log, written with the Bulk request's own entry."""
    status, detail, scim_type = described
    method = str(operation.get("method") or "").upper()
    path = operation.get("path")
    base = request.path.rstrip("/").rsplit("/", 1)[0]
    refused = RefusedOperation(
        method or "?",
        base + (path if isinstance(path, str) and path.startswith("/") else ""),
        status,
        scim_type,
        detail,
        migration_email(error, method, operation.get("data")),
    )
    g.setdefault("scim_refused_operations", []).append(refused)


# -- writing the log ---------------------------------------------------------------------------------------
@contextmanager
def logged_in_request() -> Iterator[Callable[[Response], Response]]:
    """Around the request's own transaction: log its SCIM answer from inside it (a write's entry commits with
    it; a read's is written just after it, so a read never writes), with the function this yields, instead of in
    the ``after_request`` hook. The hook still logs the request when the transaction then fails (its commit
    refused a write), which rolled the entry back with the rest."""
    yield record_scim_request
    g.scim_logged = True


def record_scim_request(response: Response) -> Response:
    org_id = g.get("scim_org_id")
    if not org_id or g.get("scim_logged"):
        return response
    scim_type, detail = _error_fields(response)
    entry = ScimRequestEntry(
        org_id=org_id,
        method=request.method,
        path=request.path,
        status=response.status_code,
        scim_type=scim_type,
        detail=detail,
        token_prefix=g.get("scim_token_prefix"),
        request_id=request_id(),
        migration_email=g.get("scim_migration_email") if response.status_code >= 400 else None,
    )
    try:
        services().scim_log.record(entry, *_operation_entries(entry))
    except Exception:
        log.exception("could not record a SCIM request in the request log")
    return response


def _operation_entries(bulk: ScimRequestEntry) -> list[ScimRequestEntry]:
    return [
        ScimRequestEntry(
            org_id=bulk.org_id,
            method=op.method,
            path=op.path,
            status=op.status,
            scim_type=op.scim_type,
            detail=op.detail,
            token_prefix=bulk.token_prefix,
            request_id=bulk.request_id,
            migration_email=op.migration_email,
        )
        for op in g.get("scim_refused_operations", [])
    ]
