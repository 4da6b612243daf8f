"""SAML sign-in bound to the browser that started it (login CSRF protection).

``/saml/<connection>/login`` puts a random value in an ``HttpOnly`` cookie and remembers its hash with the
AuthnRequest id; the ACS accepts an answer to that request only from a browser that presents the value. A
response obtained by an attacker for their own request, posted from a victim's browser, is refused: the
victim's browser holds no cookie for that request. IdP-initiated sign-in (no ``InResponseTo``) carries no
binding and is accepted only when the connection allows it.

The IdP delivers the response by a cross-site POST (HTTP-POST binding), on which browsers send only cookies
marked ``SameSite=None``, which they accept only with ``Secure``. So: with an https public URL (always in
production) the cookie is ``SameSite=None; Secure``; over plain http (development) it is ``SameSite=Lax``,
which browsers send on that POST when the IdP is on the same site (``localhost``/``127.0.0.1`` at any port, the
demo and test IdPs); a remote IdP needs an https public URL. The cookie is scoped to the connection's path
(``/saml/<connection>/``), so it reaches only that connection's login and ACS, and lives as long as a request.
"""

from __future__ import annotations

import re

from flask import Response, request

from gateway.domain import model as m
from gateway.services.saml_connections import REQUEST_LIFETIME
from gateway.wiring import settings
from saml.context import saml_connections

COOKIE = "gw_saml_binding"
_WELL_FORMED = re.compile(r"^sb_[A-Za-z0-9_-]{43}$")


def _path(connection: m.SsoConnection) -> str:
    return f"/saml/{connection.slug}/"


def presented() -> str | None:
    """The binding value the browser sent with this request, if it is well formed."""
    value = request.cookies.get(COOKIE)
    return value if value and _WELL_FORMED.match(value) else None


def browser_secret() -> str:
    """The value to bind a new AuthnRequest to: the browser's current one (so sign-ins started in two tabs
    both finish), else a fresh one."""
    return presented() or saml_connections().new_browser_secret()


def bind(response: Response, connection: m.SsoConnection, secret: str) -> Response:
    """Set the binding cookie on the response that sends the browser to the IdP."""
    cross_site = settings().public_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(REQUEST_LIFETIME.total_seconds()),
        path=_path(connection),
        httponly=True,
        secure=cross_site,
        samesite="None" if cross_site else "Lax",
    )
    return response
