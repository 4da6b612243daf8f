"""The purchase policy Admins set (whether Members may buy credits, a monthly limit per member) and the
organization's monthly statements, as JSON or CSV (``?format=csv``)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_query
from gateway.domain.billing_policy import MAX_MONTHLY_LIMIT, parse_month
from gateway.services.statements import statement_csv, statement_dict
from gateway.storage.account_migration_tables import PurchasePolicy
from gateway.wiring import services


class PolicyBody(Schema):
    members_may_purchase = fields.Bool(required=True)
    monthly_limit_per_member = fields.Int(
        required=True, strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_MONTHLY_LIMIT)
    )


class StatementQuery(Schema):
    format = fields.Str(load_default="json", validate=validate.OneOf(["json", "csv"]))


def policy_out(value: PurchasePolicy, remaining: int | None) -> dict[str, Any]:
    return {
        "members_may_purchase": value.members_may_purchase,
        "monthly_limit_per_member": value.monthly_limit_per_member,
        "updated_by": value.updated_by,
        "updated_at": value.updated_at.isoformat() if value.updated_by else None,
        "remaining_this_month": remaining,
    }


@bp.get("/billing/policy")
@access(Access.READ)
def get_purchase_policy() -> ResponseReturnValue:
    """The policy, and (for a signed-in member) how many credits they may still buy this month."""
    caller = principal()
    policy = services().billing.purchase_policy(caller.org.id)
    remaining = (
        services().billing.remaining_this_month(caller.org.id, caller.member_id) if caller.member_id else None
    )
    return jsonify(policy_out(policy, remaining))


@bp.put("/billing/policy")
@access(Access.ADMIN)
def set_purchase_policy() -> ResponseReturnValue:
    body = load_body(PolicyBody())
    caller = principal()
    policy = services().billing.set_purchase_policy(
        caller.org.id,
        caller.actor(),
        members_may_purchase=body["members_may_purchase"],
        monthly_limit_per_member=body["monthly_limit_per_member"],
    )
    return jsonify(policy_out(policy, None))


@bp.get("/billing/statements")
@access(Access.READ)
def list_statements() -> ResponseReturnValue:
    """One statement per calendar month (UTC), newest first, from the first ledger line to this month."""
    months = services().billing.statement_months(principal().org.id)
    return jsonify({"items": [{"period": f"{y:04d}-{m:02d}"} for y, m in months]})


@bp.get("/billing/statements/<period>")
@access(Access.READ)
def get_statement(period: str) -> ResponseReturnValue:
    """The statement of ``YYYY-MM``: opening and closing balance, totals, shares and every ledger line."""
    query = load_query(StatementQuery())
    caller = principal()
    year, month = parse_month(period)
    statement = services().billing.statement(caller.org.id, year, month)
    if query["format"] == "csv":
        filename = f"statement-{caller.org.slug}-{statement.period}.csv"
        return Response(
            statement_csv(statement),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )
    return jsonify(statement_dict(statement))
