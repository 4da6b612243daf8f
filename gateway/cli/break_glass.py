"""``gateway admin break-glass ORG EMAIL``: a one-time, short-lived sign-in link for an Admin locked out by a
broken identity provider (audited; Admins only; the link works once)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from gateway.cli.core import admin
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.wiring import services, settings

CLI_ACTOR = m.Actor.cli()


@admin.command("break-glass")
@click.argument("org")
@click.argument("email")
@click.option("--minutes", type=int, default=15, show_default=True, help="How long the link works (1-60).")
@json_option
@with_appcontext
@handles_errors
def break_glass(org: str, email: str, minutes: int, as_json: bool) -> None:
    """Print a one-time sign-in link for the Admin EMAIL of ORG. Give it to them over a trusted channel."""
    svc = services()
    issued = svc.break_glass.issue(
        svc.orgs.resolve(org).id, email, CLI_ACTOR, lifetime=timedelta(minutes=minutes)
    )
    url = settings().url(f"/break-glass?token={issued.token}")
    data = {"url": url, "email": issued.member.email, "expires_at": issued.link.expires_at.isoformat()}
    emit(as_json, data, f"{url}\nOne-time sign-in for {issued.member.email}, until {data['expires_at']}.")
