"""Billing (rule 9): the organization's balance, one bill per calendar month (purchases and usage by project
and by member), the statement export (CSV, JSON), buying credits, and the purchase policy Admins set."""

from __future__ import annotations

import json

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import checked, field_errors, text
from gateway.console.guard import member_may_post, viewer
from gateway.domain.billing_policy import parse_month
from gateway.domain.errors import DomainError, InvalidInput
from gateway.services.statements import statement_csv, statement_dict
from gateway.wiring import services

LINES_SHOWN = 200


def _whole(name: str, *, required: bool) -> int | None:
    raw = text(name, 40).replace(",", "").replace("_", "")
    if not raw:
        if required:
            raise InvalidInput("Enter a whole number of credits.", field=name)
        return None
    if not raw.isdigit():
        raise InvalidInput("Enter a whole number of credits (digits only).", field=name)
    return int(raw)


def _period() -> tuple[int, int]:
    wanted = request.args.get("month") or ""
    if wanted:
        return parse_month(wanted)
    now = services().clock()
    return now.year, now.month


def _page(
    *, errors: dict[str, str] | None = None, form: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    me = viewer()
    billing = services().billing
    try:
        year, month = _period()
    except InvalidInput as error:
        year, month = services().clock().year, services().clock().month
        errors = {**(errors or {}), "month": error.message}
    policy = billing.purchase_policy(me.org.id)
    statement = billing.statement(me.org.id, year, month)
    bought = {s.label: s.credits for s in statement.purchases_by_member}
    used = {s.label: s.credits for s in statement.usage_by_member}
    member_rows = [(e, bought.get(e, 0), used.get(e, 0)) for e in sorted({*bought, *used}, key=str)]
    html = render_template(
        "console/billing.html",
        title="Billing",
        section="console.billing",
        balance=billing.balance(me.org.id),
        statement=statement,
        member_rows=member_rows,
        months=billing.statement_months(me.org.id),
        policy=policy,
        may_purchase=me.is_admin or policy.members_may_purchase,
        remaining=billing.remaining_this_month(me.org.id, me.member.id),
        lines_shown=LINES_SHOWN,
        errors=errors,
        form=form or {},
    )
    return make_response(html, status)


@bp.get("/billing")
def billing() -> ResponseReturnValue:
    return _page()


@bp.post("/billing/purchases")
@member_may_post
def buy_credits() -> ResponseReturnValue:
    """Any member buys credits for the organization, within the policy its Admins set."""
    me = viewer()
    form = {"credits": text("credits", 40), "description": text("description", 200)}
    try:
        credits = _whole("credits", required=True)
        assert credits is not None
        services().billing.purchase(me.org.id, me.member.id, credits, me.actor(), form["description"])
    except DomainError as error:
        return _page(errors=field_errors(error, "credits"), form=form, status=400)
    flash(f"Bought {credits:,} credits for {me.org.name}.", "ok")
    return redirect(url_for("console.billing"), code=303)


@bp.post("/billing/policy")
def set_purchase_policy() -> ResponseReturnValue:
    me = viewer()
    form = {"monthly_limit_per_member": text("monthly_limit_per_member", 40)}
    try:
        services().billing.set_purchase_policy(
            me.org.id,
            me.actor(),
            members_may_purchase=checked("members_may_purchase"),
            monthly_limit_per_member=_whole("monthly_limit_per_member", required=False),
        )
    except DomainError as error:
        return _page(errors=field_errors(error, "monthly_limit_per_member"), form=form, status=400)
    flash("The purchase policy is saved.", "ok")
    return redirect(url_for("console.billing"), code=303)


@bp.get("/billing/statements/<period>.<fmt>")
def export_statement(period: str, fmt: str) -> ResponseReturnValue:
    """The month's statement as a file for finance: ``YYYY-MM.csv`` or ``YYYY-MM.json``."""
    if fmt not in ("csv", "json"):
        raise InvalidInput("Statements are exported as .csv or .json.")
    year, month = parse_month(period)
    me = viewer()
    statement = services().billing.statement(me.org.id, year, month)
    body = statement_csv(statement) if fmt == "csv" else json.dumps(statement_dict(statement), indent=2)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    filename = f"statement-{me.org.slug}-{statement.period}.{fmt}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
