"""``gateway domain ...``: the platform operator's view of an organization's email domains. Claiming and the
DNS check are what the console and the API offer too; ``verify`` records a pending claim as verified without
DNS, which only the operator on the server can do (audited as a CLI action)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.services.domains import DomainView
from gateway.wiring import services

CLI_ACTOR = m.Actor.cli()


def _json(view: DomainView) -> dict[str, Any]:
    claim = view.domain
    return {
        "id": claim.id,
        "domain": claim.domain,
        "status": view.status.value,
        "verified_via": claim.verified_via,
        "expires_at": claim.expires_at.isoformat() if claim.expires_at and not claim.verified else None,
        "dns": {"type": "TXT", "name": view.record_name, "value": view.record_value}
        if view.record_value
        else None,
        "last_check_error": claim.check_error,
    }


def _line(view: DomainView) -> str:
    line = f"{view.domain.domain}\t{view.status.value}"
    if view.record_value:
        line += f'\tTXT {view.record_name} "{view.record_value}"'
    return line


@cli.group()
def domain() -> None:
    """Email domains of an organization: claim, check by DNS, verify by hand, remove."""


@domain.command("list")
@click.argument("org")
@json_option
@with_appcontext
@handles_errors
def domain_list(org: str, as_json: bool) -> None:
    """List the organization's domain claims and the TXT record each pending one needs."""
    views = services().domains.list(services().orgs.resolve(org).id)
    emit(as_json, [_json(v) for v in views], "\n".join(_line(v) for v in views) or "No domains.")


@domain.command("claim")
@click.argument("org")
@click.argument("name")
@json_option
@with_appcontext
@handles_errors
def domain_claim(org: str, name: str, as_json: bool) -> None:
    """Claim NAME for ORG (pending until its TXT record is published and checked)."""
    view = services().domains.claim(services().orgs.resolve(org).id, name, CLI_ACTOR)
    emit(as_json, _json(view), _line(view))


@domain.command("check")
@click.argument("org")
@click.argument("name")
@json_option
@with_appcontext
@handles_errors
def domain_check(org: str, name: str, as_json: bool) -> None:
    """Look the claim's TXT record up now (verified when it carries the claim's token)."""
    svc = services().domains
    org_id = services().orgs.resolve(org).id
    view = svc.check(org_id, svc.find(org_id, name).domain.id, CLI_ACTOR)
    emit(as_json, _json(view), _line(view))


@domain.command("verify")
@click.argument("org")
@click.argument("name")
@json_option
@with_appcontext
@handles_errors
def domain_verify(org: str, name: str, as_json: bool) -> None:
    """Record ORG's pending claim on NAME as verified without DNS (the operator vouches for it)."""
    view = services().domains.verify_by_operator(services().orgs.resolve(org).id, name, CLI_ACTOR)
    emit(as_json, _json(view), f"{view.domain.domain} is verified for {org} (recorded by the operator).")


@domain.command("remove")
@click.argument("org")
@click.argument("name")
@json_option
@with_appcontext
@handles_errors
def domain_remove(org: str, name: str, as_json: bool) -> None:
    """Remove ORG's claim on NAME, pending or verified."""
    svc = services().domains
    org_id = services().orgs.resolve(org).id
    claim = svc.remove(org_id, svc.find(org_id, name).domain.id, CLI_ACTOR)
    emit(as_json, {"domain": claim.domain, "removed": True}, f"Removed {claim.domain}.")
