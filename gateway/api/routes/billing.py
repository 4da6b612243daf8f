"""Consolidated billing (rule 9): the organization's one balance and one bill, usage rolled up by project and
member. Any member buys credits for the organization; usage is recorded in a project by one of its members."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, acting_member, principal, require_project_member
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import Paging
from gateway.api.schemas import BillingQuery, CreditEntryQuery, CreditsBody
from gateway.wiring import services


@bp.get("/billing")
@access(Access.READ)
def get_bill() -> ResponseReturnValue:
    """The organization's bill: balance, credits bought and used (``?since=&until=`` for a period), and usage
    by project and by member."""
    query = load_query(BillingQuery())
    bill = services().billing.bill(principal().org.id, since=query.get("since"), until=query.get("until"))
    return jsonify(out.bill(bill))


@bp.get("/billing/entries")
@access(Access.READ)
def list_credit_entries() -> ResponseReturnValue:
    query = load_query(CreditEntryQuery())
    paging = Paging.of(query)
    items, total = services().billing.entries(
        principal().org.id,
        since=query.get("since"),
        until=query.get("until"),
        offset=paging.offset,
        limit=paging.limit,
    )
    return jsonify(paging.body(items, total, out.credit_entry))


@bp.post("/billing/purchases")
@access(Access.MEMBER)
def purchase_credits() -> ResponseReturnValue:
    body = load_body(CreditsBody())
    caller = principal()
    buyer = acting_member(caller, body.get("member_id"), field="member_id", doing="buy credits")
    entry = services().billing.purchase(
        caller.org.id, buyer, body["credits"], caller.actor(), body["description"]
    )
    return jsonify(out.credit_entry(entry)), 201


@bp.post("/projects/<project_id>/usage")
@access(Access.PROJECT)
def record_usage(project_id: str) -> ResponseReturnValue:
    """Usage by a member of the project (a project key's member, or the signed-in member), drawn from the
    organization's balance; 409 ``insufficient-credits`` when it would go below zero."""
    body = load_body(CreditsBody())
    caller = principal()
    require_project_member(caller, project_id)
    user = acting_member(caller, body.get("member_id"), field="member_id", doing="use credits")
    entry = services().billing.spend(
        caller.org.id, project_id, user, body["credits"], caller.actor(), body["description"]
    )
    return jsonify(out.credit_entry(entry)), 201
