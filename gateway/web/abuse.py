"""Flask glue of the abuse limits (``gateway.services.rate_limits``): the client's address as the key, the
limits ``create_app`` configured, and the HTML page browsers get. SCIM and the admin API map ``RateLimited`` in
their own error mappers (SCIM error JSON, problem JSON), each with ``Retry-After``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, request

from gateway.domain.errors import RateLimited, Unauthenticated
from gateway.services.rate_limits import AbuseLimits
from gateway.web.signin import message_page

T = TypeVar("T")


def limits() -> AbuseLimits:
    return current_app.extensions["gateway.abuse_limits"]


def client_key() -> str:
    return request.remote_addr or "unknown"


def check(name: str) -> None:
    limits().check(name, client_key())


def failed(name: str) -> None:
    limits().hit(name, client_key())


def take(name: str) -> None:
    limits().take(name, client_key())


def bearer_attempt(authenticate: Callable[[], T]) -> T:
    """Authenticate a bearer token unless this address has failed too often; count the failures (any
    ``Unauthenticated``: no token, an unknown one, a revoked one)."""
    check("bearer")
    try:
        return authenticate()
    except Unauthenticated:
        failed("bearer")
        raise


def retry_after(error: RateLimited) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)}


def limited_page(error: RateLimited) -> Response:
    """What a browser gets when it is rate limited."""
    response = message_page("Too many attempts", error.message, status=429, code=error.code)
    response.headers.update(retry_after(error))
    return response
