"""Who is calling the admin API, and what they may do.

Three kinds of principal, each tied to exactly one organization:

- an **admin API key** (``Authorization: Bearer gwa_...``): an Admin of its organization, audited as ``api_key``;
- a **project API key** (``Bearer gwp_...``): acts as its member, only inside its own project, and only on that
  project's resources;
- a **session cookie** (``gw_session``): the signed-in member; the Admin role may do everything, the Member
  role reads (GET) and works in the projects it belongs to.

Every route declares its access level with ``@access(...)``; a route without one is Admin-only (deny by
default). A bearer header wins over a cookie. Cookie-authenticated writes from another origin are refused.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, request

from gateway.api.blueprint import bp
from gateway.api.errors import ApiProblem, forbidden, unauthenticated
from gateway.domain import model as m
from gateway.domain.errors import RateLimited, Unauthenticated
from gateway.services.credentials import ApiPrincipal as PrincipalFound
from gateway.web import abuse
from gateway.web.session_cookie import read_session_token
from gateway.wiring import services, settings

F = TypeVar("F", bound=Callable[..., object])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(enum.Enum):
    PUBLIC = "public"
    """No principal needed (the route authenticates the caller itself)."""
    ADMIN = "admin"
    """Admin API key or Admin session."""
    READ = "read"
    """Also a Member session, read-only (GET)."""
    MEMBER = "member"
    """Also a Member session that may write; the route checks what exactly (own keys, own projects)."""
    PROJECT = "project"
    """Also a project API key, confined to the ``project_id`` in the URL."""


class PrincipalKind(enum.StrEnum):
    ADMIN_KEY = "admin_key"
    PROJECT_KEY = "project_key"
    SESSION = "session"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    org: m.Organization
    member: m.Member | None = None
    key: m.ApiKey | None = None

    @property
    def is_admin(self) -> bool:
        if self.kind is PrincipalKind.ADMIN_KEY:
            return True
        return self.kind is PrincipalKind.SESSION and self.member is not None and self.member.is_admin

    @property
    def project_id(self) -> str | None:
        """The one project a project key is confined to; None for every other principal."""
        return self.key.project_id if self.kind is PrincipalKind.PROJECT_KEY and self.key else None

    @property
    def member_id(self) -> str | None:
        return self.member.id if self.member is not None else None

    def actor(self) -> m.Actor:
        """The audit actor for this request: who, from which address, under which request id."""
        ip, request_id = request.remote_addr, g.get("request_id")
        if self.kind is PrincipalKind.SESSION:
            assert self.member is not None
            kind = m.ActorType.ADMIN if self.is_admin else m.ActorType.MEMBER
            return m.Actor(kind, self.member.id, self.member.email, ip, request_id, self.member.id)
        assert self.key is not None
        label = f"{self.key.kind.value} API key {self.key.prefix} ({self.key.name})"
        return m.Actor(m.ActorType.API_KEY, self.key.id, label, ip, request_id, self.member_id)


def access(level: Access) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.api_access = level  # type: ignore[attr-defined]
        return view

    return mark


def principal() -> Principal:
    """The authenticated caller of the current request (set by ``_authenticate``)."""
    value = g.get("api_principal")
    if value is None:
        raise unauthenticated("Authentication required.")
    return value


def authenticate() -> Principal:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        try:
            found = abuse.bearer_attempt(lambda: _api_key(scheme, token))
        except Unauthenticated as error:
            raise unauthenticated(error.message) from None
        except RateLimited as error:
            raise ApiProblem(
                429, error.code, error.message, title="Too many attempts", headers=abuse.retry_after(error)
            ) from None
        kind = PrincipalKind.ADMIN_KEY if found.key.kind is m.ApiKeyKind.ADMIN else PrincipalKind.PROJECT_KEY
        return Principal(kind, found.org, found.member, found.key)
    token = read_session_token()
    signed_in = services().sessions.resolve(token) if token else None
    if signed_in is None:
        raise unauthenticated("Sign in, or send an API key as 'Authorization: Bearer <key>'.")
    return Principal(PrincipalKind.SESSION, signed_in.org, signed_in.member)


def _api_key(scheme: str, token: str) -> PrincipalFound:
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <API key>'.")
    return services().credentials.authenticate_api_key(token.strip())


def refuse_cross_origin() -> None:
    """A cookie rides along on requests other sites trigger; browsers say where a request came from."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise forbidden("Cross-site requests with a session cookie are refused.")
    origin = request.headers.get("Origin")
    if origin is not None:
        public = urlsplit(settings().public_url)
        sent = urlsplit(origin)
        if (sent.scheme, sent.netloc) != (public.scheme, public.netloc):
            raise forbidden("Requests with a session cookie must come from the gateway's own origin.")


def check_access(level: Access, caller: Principal) -> None:
    if caller.kind is PrincipalKind.PROJECT_KEY:
        if level is not Access.PROJECT:
            raise forbidden("A project API key can only list and create resources in its own project.")
        if (request.view_args or {}).get("project_id") != caller.project_id:
            raise forbidden("This project API key is confined to its own project.")
        return
    if caller.is_admin:
        return
    if level is Access.ADMIN or (level is Access.READ and request.method not in SAFE_METHODS):
        raise forbidden("This action needs an Admin; Members have read-only access here.")


@bp.before_request
def _authenticate() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    level = getattr(view, "api_access", Access.ADMIN)
    if level is Access.PUBLIC:
        return
    caller = authenticate()
    if caller.kind is PrincipalKind.SESSION:
        refuse_cross_origin()
    check_access(level, caller)
    g.api_principal = caller


def require_project_member(caller: Principal, project_id: str) -> None:
    """Members work only in projects they belong to (rule 8). A project key's member must still belong to
    its project: taking someone out of a project ends what their keys can do there."""
    if caller.is_admin:
        return
    if caller.member_id is None or not services().projects.is_member(
        caller.org.id, project_id, caller.member_id
    ):
        services().projects.get(caller.org.id, project_id)  # 404 for a project of another organization
        raise forbidden("You are not a member of this project.")


def require_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise forbidden("This action needs an Admin.")


def acting_member(caller: Principal, requested: str | None, *, field: str, doing: str) -> str:
    """The member a write acts for: the caller's own member, or the one named in ``field``. An admin API key acts
    for no member, so it must name one (422); only Admins may name someone other than themselves (403)."""
    if caller.member_id is None:
        if requested is None:
            raise ApiProblem(
                422,
                "validation_failed",
                f"An admin API key acts for no member: name the member in {field}.",
                title="Validation failed",
                errors={field: ["Missing data for required field."]},
            )
        return requested
    if requested is not None and requested != caller.member_id and not caller.is_admin:
        raise forbidden(f"You can only {doing} as yourself.")
    return requested or caller.member_id
