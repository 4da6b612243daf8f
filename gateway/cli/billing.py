"""Billing from the command line: the monthly statement for finance (CSV or JSON) and the purchase policy."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from gateway.cli import cli
from gateway.cli.output import emit, handles_errors, json_option
from gateway.domain import model as m
from gateway.domain.billing_policy import parse_month
from gateway.services.statements import statement_csv, statement_dict
from gateway.wiring import services


@cli.group()
def billing() -> None:
    """The organization's credits: statements and the purchase policy."""


@billing.command("statement")
@click.argument("org")
@click.option("--month", "period", help="YYYY-MM (default: the current month, UTC).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead.")
@with_appcontext
@handles_errors
def statement(org: str, period: str | None, fmt: str, output: str | None) -> None:
    """Print (or write) the monthly statement of ORG: every ledger line of the month and the totals."""
    svc = services()
    organization = svc.orgs.resolve(org)
    if period:
        year, month = parse_month(period)
    else:
        now = svc.clock()
        year, month = now.year, now.month
    result = svc.billing.statement(organization.id, year, month)
    text = statement_csv(result) if fmt == "csv" else json.dumps(statement_dict(result), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8", newline="")
        click.echo(f"Wrote the {result.period} statement of {organization.slug} to {output}.")
    else:
        click.echo(text, nl=False)


@billing.command("policy")
@click.argument("org")
@click.option(
    "--members-may-purchase/--admins-only",
    "members_may_purchase",
    default=None,
    help="Whether Members (not only Admins) may buy credits.",
)
@click.option("--monthly-limit", type=click.IntRange(min=0), help="Credits each member may buy per month.")
@click.option("--no-limit", is_flag=True, help="Remove the monthly limit per member.")
@json_option
@with_appcontext
@handles_errors
def policy(
    org: str, members_may_purchase: bool | None, monthly_limit: int | None, no_limit: bool, as_json: bool
) -> None:
    """Show ORG's purchase policy, or change it with the options."""
    svc = services()
    organization = svc.orgs.resolve(org)
    current = svc.billing.purchase_policy(organization.id)
    if members_may_purchase is not None or monthly_limit is not None or no_limit:
        if no_limit and monthly_limit is not None:
            raise click.UsageError("Use either --monthly-limit or --no-limit.")
        current = svc.billing.set_purchase_policy(
            organization.id,
            m.Actor.cli(),
            members_may_purchase=current.members_may_purchase
            if members_may_purchase is None
            else members_may_purchase,
            monthly_limit_per_member=None
            if no_limit
            else (monthly_limit if monthly_limit is not None else current.monthly_limit_per_member),
        )
    data = {
        "members_may_purchase": current.members_may_purchase,
        "monthly_limit_per_member": current.monthly_limit_per_member,
    }
    who = "any member" if current.members_may_purchase else "only Admins"
    limit = "no monthly limit" if current.monthly_limit_per_member is None else (
        f"at most {current.monthly_limit_per_member:,} credits per member per month"
    )  # fmt: skip
    emit(as_json, data, f"{organization.slug}: {who} may buy credits, {limit}.")
