"""The sign-in session cookie: it carries only a random token; the session itself lives in the database."""

from __future__ import annotations

from flask import Response, request

from gateway.wiring import settings

COOKIE_NAME = "gw_session"


def read_session_token() -> str | None:
    return request.cookies.get(COOKIE_NAME) or None


def set_session_cookie(response: Response, token: str) -> Response:
    config = settings()
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=config.session_absolute_minutes * 60,
        httponly=True,
        secure=config.is_production,
        samesite="Lax",
        path="/",
    )
    return response


def clear_session_cookie(response: Response) -> Response:
    config = settings()
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=config.is_production, samesite="Lax")
    return response
