"""``gateway connection edit|disable|enable|delete|rotate-secret|drop-old-secret|refresh-metadata``: a
connection's life after setup, by ORG (slug or id) and the connection's slug.

Disabling or deleting the last enabled connection of an organization in SSO mode locks everyone out; both
refuse unless ``--override`` is given."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from gateway.cli.connections import connection
from gateway.cli.output import emit, handles_errors, json_option
from gateway.cli.presenters import connection_json
from gateway.domain import model as m
from gateway.domain.errors import InvalidInput, NotFound
from gateway.services.connection_lifecycle import ConnectionEdit
from gateway.services.oidc_connections import OidcConnectionService
from gateway.wiring import services

CLI_ACTOR = m.Actor.cli()


def _find(org: str, slug: str) -> m.SsoConnection:
    svc = services()
    organization = svc.orgs.resolve(org)
    for item in svc.connections.list(organization.id):
        if item.slug == slug or item.id == slug:
            return item
    raise NotFound(f"{organization.slug} has no connection {slug!r}.")


def _oidc() -> OidcConnectionService:
    found = getattr(services(), "oidc_connections", None)
    if not isinstance(found, OidcConnectionService):
        raise InvalidInput("OpenID Connect is not installed in this gateway.")
    return found


def _pairs(values: tuple[str, ...]) -> dict[str, str] | None:
    if not values:
        return None
    mapping = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep:
            raise InvalidInput(f"--attribute takes FIELD=NAME, got {value!r}.", field="attributes")
        mapping[key.strip()] = name.strip()
    return mapping


@connection.command("edit")
@click.argument("org")
@click.argument("slug")
@click.option("--name", help="A new name.")
@click.option("--domain", "domains", multiple=True, help="An email domain it serves (repeatable; replaces).")
@click.option("--no-domains", is_flag=True, help="Serve every verified domain of the organization.")
@click.option(
    "--admin-group", "admin_groups", multiple=True, help="IdP group of Admins (repeatable; replaces)."
)
@click.option("--no-admin-groups", is_flag=True, help="Map no IdP group to the Admin role.")
@click.option(
    "--attribute", "attributes", multiple=True, help="FIELD=NAME, e.g. groups=memberOf (repeatable)."
)
@click.option("--idp-initiated/--no-idp-initiated", default=None, help="SAML: accept IdP-initiated sign-in.")
@click.option("--metadata-url", help="SAML: where the IdP publishes its metadata (refreshed from there).")
@json_option
@with_appcontext
@handles_errors
def edit_connection(
    org: str,
    slug: str,
    name: str | None,
    domains: tuple[str, ...],
    no_domains: bool,
    admin_groups: tuple[str, ...],
    no_admin_groups: bool,
    attributes: tuple[str, ...],
    idp_initiated: bool | None,
    metadata_url: str | None,
    as_json: bool,
) -> None:
    """Edit connection SLUG of ORG (audited as connection.updated)."""
    found = _find(org, slug)
    edit = ConnectionEdit(
        name=name,
        domains=[] if no_domains else (list(domains) or None),
        admin_groups=[] if no_admin_groups else (list(admin_groups) or None),
        attributes=_pairs(attributes),
        allow_idp_initiated=idp_initiated,
    )
    svc = services()
    updated = svc.connection_lifecycle.edit(found.org_id, found.id, edit, CLI_ACTOR)
    if metadata_url is not None:
        updated = svc.saml_metadata.set_url(found.org_id, found.id, metadata_url or None, CLI_ACTOR)
    emit(
        as_json, {**connection_json(updated), "config_keys": sorted(updated.config)}, f"{updated.slug} saved."
    )


@connection.command("disable")
@click.argument("org")
@click.argument("slug")
@click.option(
    "--override", is_flag=True, help="Also the last enabled connection in SSO mode (locks everyone out)."
)
@json_option
@with_appcontext
@handles_errors
def disable_connection(org: str, slug: str, override: bool, as_json: bool) -> None:
    """Disable connection SLUG of ORG."""
    found = _find(org, slug)
    updated = services().connections.set_enabled(found.org_id, found.id, False, CLI_ACTOR, override=override)
    emit(as_json, connection_json(updated), f"{updated.slug} is disabled.")


@connection.command("enable")
@click.argument("org")
@click.argument("slug")
@json_option
@with_appcontext
@handles_errors
def enable_connection(org: str, slug: str, as_json: bool) -> None:
    """Enable connection SLUG of ORG."""
    found = _find(org, slug)
    updated = services().connections.set_enabled(found.org_id, found.id, True, CLI_ACTOR)
    emit(as_json, connection_json(updated), f"{updated.slug} is enabled.")


@connection.command("delete")
@click.argument("org")
@click.argument("slug")
@click.option("--dry-run", is_flag=True, help="Only show what deleting would do.")
@click.option(
    "--override", is_flag=True, help="Also the last enabled connection in SSO mode (locks everyone out)."
)
@json_option
@with_appcontext
@handles_errors
def delete_connection(org: str, slug: str, dry_run: bool, override: bool, as_json: bool) -> None:
    """Delete connection SLUG of ORG; members keep their accounts, sessions it started end."""
    found = _find(org, slug)
    lifecycle = services().connection_lifecycle
    if dry_run:
        preview = lifecycle.delete_preview(found.org_id, found.id)
    else:
        preview = lifecycle.delete(found.org_id, found.id, CLI_ACTOR, override=override)
    data = {
        "connection": connection_json(preview.connection),
        "deleted": not dry_run,
        "sessions_ended": preview.sessions_ended,
        "members_kept": preview.members_kept,
        "last_enabled_connection": preview.last_usable,
        "effects": preview.effects,
    }
    head = "Would delete:" if dry_run else "Deleted:"
    emit(as_json, data, "\n".join([head, *(f"- {e}" for e in preview.effects)]))


@connection.command("rotate-secret")
@click.argument("org")
@click.argument("slug")
@click.option(
    "--client-secret", required=True, prompt=True, hide_input=True, help="The new OIDC client secret."
)
@json_option
@with_appcontext
@handles_errors
def rotate_secret(org: str, slug: str, client_secret: str, as_json: bool) -> None:
    """Use a new OIDC client secret; the old one is tried until a sign-in works with the new one."""
    found = _find(org, slug)
    updated = _oidc().rotate_client_secret(found.org_id, found.id, client_secret, CLI_ACTOR)
    emit(as_json, connection_json(updated), f"{updated.slug}: new client secret in use; the old one is kept.")


@connection.command("drop-old-secret")
@click.argument("org")
@click.argument("slug")
@json_option
@with_appcontext
@handles_errors
def drop_old_secret(org: str, slug: str, as_json: bool) -> None:
    """Stop trying the OIDC client secret from before the last rotation."""
    found = _find(org, slug)
    updated = _oidc().drop_previous_client_secret(found.org_id, found.id, CLI_ACTOR)
    emit(as_json, connection_json(updated), f"{updated.slug}: the old client secret is dropped.")


@connection.command("refresh-metadata")
@click.argument("org")
@click.argument("slug")
@json_option
@with_appcontext
@handles_errors
def refresh_metadata(org: str, slug: str, as_json: bool) -> None:
    """Fetch a SAML connection's IdP metadata from its metadata URL now and apply it."""
    found = _find(org, slug)
    result = services().saml_metadata.refresh(found.org_id, found.id, CLI_ACTOR)
    human = f"{found.slug}: {len(result.added)} certificate(s) added, {len(result.removed)} removed" + (
        ", URLs updated." if result.urls_changed else "."
    )
    emit(as_json, {**result.as_dict(), "changed": result.changed}, human)
