"""Flask's signed-cookie session (``flask.session``), opened only for a request that carries its cookie.

Flask builds the cookie's signing serializer (itsdangerous's ``URLSafeTimedSerializer`` and its signer) at the
start of every request, before it looks for the cookie: about 3% of a SCIM lookup, which never carries one. The
gateway's own sign-in session is a token cookie (``gateway.web.session_cookie``); ``flask.session`` stays
available and, when its cookie is there, is read exactly as Flask reads it."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class SignedSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask answers without the cookie, minus the serializer
        return super().open_session(app, request)
