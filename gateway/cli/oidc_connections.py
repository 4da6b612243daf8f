"""``gateway connection add-oidc``: an organization's OpenID Connect connection to its identity provider."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from gateway.cli.connections import connection
from gateway.cli.output import emit, handles_errors, json_option
from gateway.cli.presenters import connection_json
from gateway.domain import model as m
from gateway.presets import load_preset, preset_names
from gateway.wiring import services

CLI_ACTOR = m.Actor.cli()


@connection.command("add-oidc")
@click.argument("org")
@click.option(
    "--issuer", required=True, help="The provider's issuer URL, exactly as its discovery document says."
)
@click.option("--client-id", required=True, help="The client ID registered at the provider.")
@click.option(
    "--client-secret",
    required=True,
    envvar="GATEWAY_OIDC_CLIENT_SECRET",
    help="The client secret (or set GATEWAY_OIDC_CLIENT_SECRET); stored encrypted.",
)
@click.option(
    "--preset", type=click.Choice(preset_names(), case_sensitive=False), default="generic", show_default=True
)
@click.option(
    "--domain", "domains", multiple=True, help="An email domain of the organization to verify (repeatable)."
)
@click.option(
    "--admin-group",
    "admin_groups",
    multiple=True,
    help="IdP group whose members join as Admins (repeatable).",
)
@click.option("--name", help="Display name of the connection.")
@click.option("--slug", help="The connection's name in its URLs (default: <org>-<preset>-oidc).")
@json_option
@with_appcontext
@handles_errors
def add_oidc(
    org: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    preset: str,
    domains: tuple[str, ...],
    admin_groups: tuple[str, ...],
    name: str | None,
    slug: str | None,
    as_json: bool,
) -> None:
    """Add an OpenID Connect connection to ORG (slug or id), after checking the issuer's discovery document."""
    svc = services()
    organization = svc.orgs.resolve(org)
    created = svc.oidc_connections.add(  # type: ignore[attr-defined]
        organization.id, CLI_ACTOR, issuer=issuer, client_id=client_id, client_secret=client_secret,
        preset=preset, name=name, slug=slug, domains=list(domains), admin_groups=list(admin_groups),
    )  # fmt: skip
    chosen = load_preset(preset)
    data = {
        **connection_json(created.connection),
        "issuer": created.connection.config["issuer"],
        "client_id": created.connection.config["client_id"],
        "redirect_uri": created.redirect_uri,
        "login_url": created.redirect_uri.removesuffix("/callback") + "/login",
        "scopes": created.scopes,
        "admin_groups": created.connection.config["admin_groups"],
        "notes": created.notes,
        "setup": chosen.notes,
    }
    lines = [
        f"Added OIDC connection {created.connection.slug} to {organization.slug}"
        + (
            " (disabled while the organization is in invitation mode)."
            if created.connection.suspended
            else "."
        ),
        f"Register this redirect URI at the provider: {created.redirect_uri}",
        f"Scopes: {' '.join(created.scopes)}",
        *created.notes,
    ]
    emit(as_json, data, "\n".join(lines))
