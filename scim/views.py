"""Flask glue: authenticate the bearer token, parse the JSON body, call ``dispatch`` (or ``run_bulk``) and
turn the result or the error into an ``application/scim+json`` response."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from gateway.domain import model as m
from gateway.domain.errors import ModeForbids, Unauthenticated
from gateway.domain.policy import MODE_MESSAGES
from gateway.observability import request_id
from gateway.services.provisioning import ProvisioningService
from gateway.web import abuse
from gateway.wiring import services, settings
from scim.bulk import run_bulk
from scim.endpoints import Call, Caller, Result, dispatch
from scim.errors import ScimError, error_response, scim_response
from scim.request_log import logged_in_request, record_scim_request
from scim.schema import InvalidSyntax

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
bp.after_request(record_scim_request)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_BODY_TYPES = ("application/scim+json", "application/json")


def _service() -> ProvisioningService:
    return current_app.extensions["scim.provisioning"]


def _authenticate() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the organization's SCIM token as 'Authorization: Bearer <token>'.")
    org, scim_token = services().credentials.authenticate_scim_token(token.strip())
    g.scim_org_id, g.scim_token_prefix = org.id, scim_token.prefix  # also for refused requests' log entry
    if org.mode is m.MembershipMode.INVITATION or not scim_token.is_usable:
        raise ModeForbids(MODE_MESSAGES[(m.MembershipMode.INVITATION, m.JoinPath.SCIM)])
    actor = m.Actor(
        m.ActorType.SCIM_TOKEN,
        id=scim_token.id,
        label=f"SCIM token {scim_token.prefix}",
        ip=request.remote_addr,
        request_id=request_id(),
    )
    config = settings()
    return Caller(
        org.id,
        actor,
        config.url("/scim/v2"),
        config.max_request_bytes,
        current_app.extensions["scim.cursors"],
    )


def _body() -> Any:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    raw = request.get_data(cache=True)
    mimetype = request.mimetype or ""
    if raw and mimetype and mimetype not in _BODY_TYPES:
        raise ScimError(415, "Send the body as application/scim+json (or application/json).")
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise InvalidSyntax("The request body is not valid JSON (or is nested too deeply).") from None


@bp.route("/", methods=METHODS, strict_slashes=False)
@bp.route("/<path:path>", methods=METHODS)
def endpoint(path: str = "") -> Response:
    name = path.strip("/").lower()
    if name == "bulk":
        # Each operation of a Bulk request is a request of its own, with its own transaction.
        caller = abuse.bearer_attempt(_authenticate)
        body = _body()
        if request.method != "POST":
            raise ScimError(405, f"{request.method} is not allowed on /Bulk; use POST.")
        return _respond(run_bulk(_service(), caller, body))
    # One request, one transaction: the token check, the mode check (the organization's shared lock comes
    # with the token on a write), the change and what the response reads back.
    writes = request.method not in ("GET", "HEAD") and not name.endswith(".search")
    with logged_in_request() as record, services().db.scope(write=writes, rerun=True):
        caller = abuse.bearer_attempt(_authenticate)
        call = Call(request.method, path, request.args.to_dict(), _body(), dict(request.headers))
        response = record(_respond(dispatch(_service(), caller, call)))
    return response


def _respond(result: Result) -> Response:
    return scim_response(result.body, result.status, result.headers)


@bp.errorhandler(Exception)
def _error(error: Exception) -> Response:
    return error_response(error)
