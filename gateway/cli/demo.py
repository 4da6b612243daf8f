"""``gateway demo seed``: the demo organization that ``make run`` serves, created once and reused."""

from __future__ import annotations

import json
from pathlib import Path

from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.wiring import services, settings

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin@demo.example"
CLI_ACTOR = m.Actor.cli()


@cli.group()
def demo() -> None:
    """The demo organization."""


@demo.command("seed")
@json_option
@with_appcontext
@handles_errors
def seed(as_json: bool) -> None:
    """Create the demo organization (once) with an Admin, and issue a fresh admin API key for it."""
    svc = services()
    existing = {v.org.slug: v for v in svc.orgs.list()}
    view = existing.get(DEMO_SLUG) or svc.orgs.create(
        "Demo Company", m.MembershipMode.INVITATION, CLI_ACTOR, slug=DEMO_SLUG, domains=["demo.example"]
    )
    if svc.members.list(view.org.id, role=m.Role.ADMIN)[1] == 0:
        svc.members.add_admin(view.org.id, DEMO_ADMIN, CLI_ACTOR)
    issued = svc.credentials.create_admin_key(view.org.id, CLI_ACTOR, "demo admin key")
    data = {
        "org": {"id": view.org.id, "slug": view.org.slug, "mode": view.org.mode.value},
        "admin_email": DEMO_ADMIN,
        "admin_api_key": issued.token,
        "base_url": settings().public_url,
    }
    path = Path(settings().instance_path) / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    base = settings().public_url
    emit(
        as_json,
        data,
        f"Demo organization '{view.org.slug}' ({view.org.mode.value} mode), Admin {DEMO_ADMIN}.\n"
        f"Admin API key (also in {path}):\n  {issued.token}\n"
        f"Try: curl -H 'Authorization: Bearer {issued.token}' {base}/api/v1/org",
    )
