"""Records every SCIM request in the organization's SCIM request log, refused ones included.

A SCIM answer is logged from inside the request's transaction (``record_in_request``: one more INSERT in the
same transaction for a write, a short transaction right after it for a read); a refused request, whose
transaction rolled back, is logged by the blueprint's ``after_request`` hook in a transaction of its own. A request whose token names no organization (missing or unknown token) has no log to go to.
A failure to log is logged, never raised.
"""

from __future__ import annotations

import json
import logging

from flask import Response, g, request

from gateway.observability import request_id
from gateway.services.scim_log import ScimRequestEntry
from gateway.wiring import services

log = logging.getLogger(__name__)
MAX_ERROR_BODY = 8192


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


def record_in_request(response: Response) -> Response:
    """Log a SCIM answer from inside the request's own transaction (a write's entry commits with it; a read's
    is written just after it, so a read never writes), instead of in the ``after_request`` hook."""
    record_scim_request(response)
    g.scim_logged = True
    return response


def record_scim_request(response: Response) -> Response:
    org_id = g.get("scim_org_id")
    if not org_id or g.get("scim_logged"):
        return response
    scim_type, detail = _error_fields(response)
    try:
        services().scim_log.record(
            ScimRequestEntry(
                org_id=org_id,
                method=request.method,
                path=request.path,
                status=response.status_code,
                scim_type=scim_type,
                detail=detail,
                token_prefix=g.get("scim_token_prefix"),
                request_id=request_id(),
            )
        )
    except Exception:
        log.exception("could not record a SCIM request in the request log")
    return response
