"""The organization at a glance: mode, members, connections, SCIM, verified domains, recent activity."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import field_errors, text
from gateway.console.guard import viewer
from gateway.domain import model as m
from gateway.domain.errors import DomainError
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


@bp.post("/domains")
def add_domain() -> ResponseReturnValue:
    """Claim a verified email domain: SSO sign-ins from it may create members just in time."""
    domain = text("domain", 253)
    try:
        record = services().orgs.add_domain(viewer().org.id, domain, viewer().actor())
    except DomainError as error:
        return _render(field_errors(error, "domain"), domain, 400)
    flash(f"The domain {record.domain} now belongs to the organization.", "ok")
    return redirect(url_for("console.overview"), code=303)
