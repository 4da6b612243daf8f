"""The admin API's one error mapper: every failure becomes RFC 9457 problem JSON (``application/problem+json``).

Domain errors keep their stable ``code`` as the problem ``type`` (``urn:gateway:problem:<code>``, underscores
as hyphens); each ``DomainError`` subclass maps to an HTTP status exactly once, in ``DOMAIN_STATUS``. The
invitation family answers 410 Gone (the link can no longer be used: expired, revoked, replaced, already used or
not pending any more) except an email mismatch, which is 403 (the signed-in person is not the invitee).

OIDC and SAML refusals carry their reason as a per-instance ``code`` (``bad_issuer``, ``provider_unreachable``):
it becomes the problem type like any other code. Most say the identity provider's answer cannot be used (422);
a provider that could not be reached or answered with an error is a failure upstream (502).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from gateway.api.blueprint import PREFIX, bp
from gateway.domain import errors as e
from gateway.domain.migration import MigrationRefused
from gateway.services.cursors import InvalidCursor
from gateway.services.oidc_connections import OidcRefused
from gateway.services.saml_connections import SamlRefused

PROBLEM_MIMETYPE = "application/problem+json"
TYPE_PREFIX = "urn:gateway:problem:"
AUTHENTICATE = 'Bearer realm="gateway-api"'
API_ROOT = PREFIX.rsplit("/", 1)[0]

log = logging.getLogger("gateway.api")

DOMAIN_STATUS: dict[type[e.DomainError], int] = {
    e.NotFound: 404,
    e.InvalidInput: 422,
    InvalidCursor: 400,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.Conflict: 409,
    e.ModeForbids: 409,
    e.ModeSwitchRefused: 409,
    e.LastAdmin: 409,
    e.FeatureDisabled: 403,
    e.InvitationInvalid: 410,
    e.InvitationEmailMismatch: 403,
    e.MemberInactive: 409,
    e.EmailBlocked: 403,
    e.Deprovisioned: 403,
    e.InsufficientCredits: 409,
    e.DomainNotProven: 409,
    e.PurchaseLimitExceeded: 409,
    MigrationRefused: 409,
    OidcRefused: 422,
    SamlRefused: 422,
}

CODE_STATUS: dict[str, int] = {
    "provider_unreachable": 502,
    "provider_error": 502,
    "not_the_account_holder": 403,
}
"""Statuses of refusals whose ``code`` varies per instance, where it differs from the class's status."""

DOMAIN_TITLES: dict[str, str] = {
    "mode_forbids": "Not allowed in this membership mode",
    "mode_switch_refused": "Membership mode switch refused",
    "last_admin": "Last Admin",
    "insufficient_credits": "Not enough credits",
    "purchase_not_allowed": "Only Admins buy credits",
    "purchase_limit_exceeded": "Monthly purchase limit reached",
    "email_taken": "Email already in use",
    "account_in_other_organization": "Account belongs to another organization",
    "address_domain_owned": "Address in another organization's domain",
    "public_mail_domain": "Public mail domain",
    "domain_not_proven": "Domain not proven",
    "invitation_invalid": "Invitation no longer valid",
    "invitation_expired": "Invitation expired",
    "invitation_revoked": "Invitation revoked",
    "invitation_used": "Invitation already used",
    "invitation_email_mismatch": "Invitation sent to another email",
    "feature_disabled": "Feature not enabled",
    "member_inactive": "Member not active",
    "email_blocked": "Email blocked",
    "deprovisioned": "Deprovisioned by the identity provider",
    "invalid_input": "Invalid input",
    "bad_issuer": "Issuer mismatch",
    "provider_unreachable": "Identity provider unreachable",
    "provider_error": "Identity provider error",
    "unavailable": "Temporarily unavailable",
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}
"""Problem codes for plain HTTP errors, fixed here so they do not follow Python's reason phrases."""

_RESERVED = {"type", "title", "status", "detail", "instance", "request_id", "errors"}


class ApiProblem(Exception):
    """A failure the API itself detects (authentication, permissions, malformed requests)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = dict(headers or {})


def unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthenticated", detail, headers={"WWW-Authenticate": AUTHENTICATE})


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", detail)


def problem_type(code: str) -> str:
    return TYPE_PREFIX + code.replace("_", "-")


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.get("request_id"),
    }
    if errors:
        body["errors"] = dict(errors)
    for key, value in (extra or {}).items():
        if key not in _RESERVED and isinstance(value, str | int | float | bool | list | None):
            body[key] = value
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def domain_status(error: e.DomainError) -> int:
    if isinstance(error, OidcRefused | SamlRefused | MigrationRefused) and error.code in CODE_STATUS:
        return CODE_STATUS[error.code]
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


def _from_api_problem(error: ApiProblem) -> Response:
    return problem_response(
        error.status, error.code, error.detail, title=error.title, errors=error.errors, headers=error.headers
    )


def _from_domain_error(error: e.DomainError) -> Response:
    status = domain_status(error)
    details = dict(error.details)
    field = details.pop("field", None)
    errors = {field: [error.message]} if isinstance(field, str) else None
    headers = {"WWW-Authenticate": AUTHENTICATE} if status == 401 else None
    title = DOMAIN_TITLES.get(error.code) or HTTPStatus(status).phrase
    if isinstance(error, MigrationRefused):
        title = "Account migration refused"
    if isinstance(error, e.AccountInOtherOrganization):
        # The way forward (rule 12): ask for the account to be migrated, with a dry run first.
        details["request_migration"] = f"POST {PREFIX}/account-migrations"
    return problem_response(
        status, error.code, error.message, title=title, errors=errors, headers=headers, extra=details
    )


def _http_code(error: HTTPException) -> str:
    status = error.code or 500
    return HTTP_CODES.get(status) or HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


def _from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    detail = error.description or HTTPStatus(status).description
    if status == 404:
        detail = "There is no such API endpoint."
    return problem_response(status, _http_code(error), detail, headers=headers)


def _from_unavailable(error: e.Unavailable) -> Response:
    return problem_response(
        503,
        error.code,
        error.message,
        title=DOMAIN_TITLES[error.code],
        headers={"Retry-After": str(error.retry_after)},
    )


def _from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error in the admin API", extra={"request_id": g.get("request_id")})
    return problem_response(
        500,
        "internal_error",
        "An unexpected error occurred. Quote the request id when you report it.",
    )


def _is_api_path() -> bool:
    return request.path == API_ROOT or request.path.startswith(API_ROOT + "/")


bp.register_error_handler(ApiProblem, _from_api_problem)
bp.register_error_handler(e.DomainError, _from_domain_error)
bp.register_error_handler(e.Unavailable, _from_unavailable)
bp.register_error_handler(HTTPException, _from_http_exception)
bp.register_error_handler(Exception, _from_unexpected)


def register_app_error_handler(app: Flask) -> None:
    """Routing errors happen before the blueprint is known, so /api/* 404 and 405 need an app-level handler.

    It is registered for the ``HTTPException`` class (a handler for a specific status code takes precedence,
    and must leave /api/* paths to this one). Paths outside /api/ go to the ``HTTPException`` handler that was
    registered before this one, if any, or keep Flask's default response."""
    previous: Callable[[HTTPException], Any] | None = app.error_handler_spec[None][None].get(HTTPException)

    def http_error(error: HTTPException) -> Any:
        if _is_api_path():
            return _from_http_exception(error)
        return previous(error) if previous is not None else error

    app.register_error_handler(HTTPException, http_error)
