"""``gateway scim-group-role``: map an IdP group (pushed over SCIM) to a role in the organization (rule 7)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.wiring import services

CLI_ACTOR = m.Actor.cli()


@cli.group("scim-group-role")
def scim_group_role() -> None:
    """IdP group -> role mappings for SCIM provisioning."""


@scim_group_role.command("set")
@click.argument("org")
@click.argument("group_name")
@click.argument("role", type=click.Choice(["admin", "member"]))
@json_option
@with_appcontext
@handles_errors
def set_mapping(org: str, group_name: str, role: str, as_json: bool) -> None:
    """Members of the IdP group GROUP_NAME in ORG get ROLE (applied now to the group's current members)."""
    svc = services()
    organization = svc.orgs.resolve(org)
    svc.provisioning.map_group_to_role(organization.id, group_name, m.Role(role), CLI_ACTOR)
    emit(
        as_json,
        {"org_id": organization.id, "group_name": group_name, "role": role},
        f"{group_name} -> {role}",
    )


@scim_group_role.command("remove")
@click.argument("org")
@click.argument("group_name")
@json_option
@with_appcontext
@handles_errors
def remove_mapping(org: str, group_name: str, as_json: bool) -> None:
    """Remove the mapping of GROUP_NAME in ORG."""
    svc = services()
    organization = svc.orgs.resolve(org)
    svc.provisioning.map_group_to_role(organization.id, group_name, None, CLI_ACTOR)
    emit(
        as_json, {"org_id": organization.id, "group_name": group_name, "role": None}, f"{group_name} unmapped"
    )


@scim_group_role.command("list")
@click.argument("org")
@json_option
@with_appcontext
@handles_errors
def list_mappings(org: str, as_json: bool) -> None:
    """List the group -> role mappings of ORG."""
    svc = services()
    mappings = svc.provisioning.role_mappings(svc.orgs.resolve(org).id)
    data = [{"group_name": x.group_name, "role": x.role.value} for x in mappings]
    emit(as_json, data, "\n".join(f"{x['group_name']}\t{x['role']}" for x in data) or "No mappings.")
