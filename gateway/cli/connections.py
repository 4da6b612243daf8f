"""``gateway connection ...``: SSO connections of an organization. Protocol-specific ``add-*`` commands
register themselves on this group from their own modules."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.cli.presenters import connection_json
from gateway.wiring import services


@cli.group()
def connection() -> None:
    """SSO connections (SAML 2.0 and OpenID Connect)."""


@connection.command("list")
@click.argument("org")
@json_option
@with_appcontext
@handles_errors
def list_connections(org: str, as_json: bool) -> None:
    """List the SSO connections of ORG (slug or id)."""
    svc = services()
    organization = svc.orgs.resolve(org)
    items = svc.connections.list(organization.id)
    lines = [
        f"{c.slug}\t{c.protocol.value}\t{'enabled' if c.is_usable else 'disabled'}\t{c.name}" for c in items
    ]
    emit(as_json, [connection_json(c) for c in items], "\n".join(lines) or "No connections.")
