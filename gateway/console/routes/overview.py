"""The organization at a glance: mode, members, connections, SCIM, verified domains, recent activity."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.guard import viewer
from gateway.domain import model as m
from gateway.wiring import services

RECENT_EVENTS = 10


def _render(errors: dict[str, str] | None = None, domain: str = "", status: int = 200) -> ResponseReturnValue:
    svc, org = services(), viewer().org
    view = svc.orgs.get(org.id)
    connections = svc.connections.list(org.id)
    tokens = [t for t in svc.credentials.scim_tokens(org.id) if t.revoked_at is None]
    events = svc.audit.list(org.id, limit=RECENT_EVENTS)[0] if viewer().is_admin else []
    return render_template(
        "console/overview.html",
        title="Overview",
        section="console.overview",
        view=view,
        connections=connections,
        usable_connections=[c for c in connections if c.is_usable],
        scim_tokens=tokens,
        scim_usable=[t for t in tokens if t.is_usable],
        scim_enabled=view.org.mode is m.MembershipMode.SSO,
        events=events,
        errors=errors,
        domain=domain,
    ), status


@bp.get("/")
def overview() -> ResponseReturnValue:
    return _render()
