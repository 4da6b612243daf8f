"""Who is looking at the console, and what they may do.

Every page needs a member session (the ``gw_session`` cookie); without one the browser goes to ``/login`` and
comes back afterwards. Admins may act; Members see read-only pages, and every form post from them is refused.

CSRF: every form carries a token derived as ``HMAC-SHA256(secret_key, session token)``. It needs no storage,
is different for every session, changes when the session is rotated at sign-in, and dies with the session; a
page on another site can neither read it nor compute it without the session cookie and the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar
from urllib.parse import quote

from flask import Response, abort, current_app, g, redirect, request
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.domain import model as m
from gateway.services.sessions import SignedIn
from gateway.web.session_cookie import read_session_token
from gateway.wiring import services, settings

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

CSRF_FIELD = "csrf_token"
_CSRF_CONTEXT = b"gateway-console-csrf\x00"


@dataclass(frozen=True)
class Viewer:
    """The signed-in member looking at the console, with the CSRF token for their forms."""

    signed_in: SignedIn
    csrf_token: str

    @property
    def org(self) -> m.Organization:
        return self.signed_in.org

    @property
    def member(self) -> m.Member:
        return self.signed_in.member

    @property
    def is_admin(self) -> bool:
        return self.member.is_admin

    def actor(self) -> m.Actor:
        kind = m.ActorType.ADMIN if self.is_admin else m.ActorType.MEMBER
        return m.Actor(
            kind, self.member.id, self.member.email, request.remote_addr, g.get("request_id"), self.member.id
        )


def csrf_token_for(session_token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), _CSRF_CONTEXT + session_token.encode(), hashlib.sha256).hexdigest()


def viewer() -> Viewer:
    return g.console_viewer


def _login_redirect() -> ResponseReturnValue:
    target = request.path
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return redirect("/login?next=" + quote(target, safe="/"), code=303)


@bp.before_request
def _require_session() -> ResponseReturnValue | None:
    if request.endpoint == "console.static":
        return None
    token = read_session_token()
    signed_in = services().sessions.resolve(token) if token else None
    if signed_in is None or token is None:
        return _login_redirect()
    g.console_viewer = Viewer(signed_in, csrf_token_for(token, settings().secret_key))
    if request.method not in ("GET", "HEAD"):
        _check_post(g.console_viewer)
    return None


def _check_post(current: Viewer) -> None:
    sent = request.form.get(CSRF_FIELD, "")
    if not hmac.compare_digest(sent.encode(), current.csrf_token.encode()):
        abort(
            400,
            description="The form expired or did not come from this console. Reload the page and try again.",
        )
    view = current_app.view_functions.get(request.endpoint or "")
    if not current.is_admin and not getattr(view, "console_member_post", False):
        abort(403, description="Only Admins can change the organization; Members have read-only access.")


def member_may_post(view: F) -> F:
    """A form a Member may send too (buying credits, confirming their own migration); the view checks what."""
    view.console_member_post = True  # type: ignore[attr-defined]
    return view


def admin_page(view: F) -> F:
    """A page only Admins may see (credentials, invitations, the audit log)."""

    @wraps(view)
    def wrapper(*args: object, **kwargs: object) -> ResponseReturnValue:
        if not viewer().is_admin:
            abort(403, description="This page is for Admins of the organization.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


SECURITY_HEADERS = {
    # Admin pages are never cached, framed (clickjacking), or allowed to run anything but the console's own files.
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@bp.after_request
def _security_headers(response: Response) -> Response:
    if request.endpoint == "console.static":
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
