"""Membership events and webhooks (the transactional outbox, see docs/webhooks.md): the ordered event feed,
webhook endpoints, the delivery log and replays. A signing secret appears only in the response that creates
or rotates it; invitation links queued for email never leave the gateway."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.api.schemas import DeliveryQuery, EventQuery, ReplayDeadBody, WebhookBody, WebhookPatch
from gateway.wiring import services


# -- the event feed --------------------------------------------------------------------------------------------
@bp.get("/events")
@access(Access.ADMIN)
def list_events() -> ResponseReturnValue:
    """Events with a sequence number above ``after``, oldest first; store ``next_cursor`` and pass it as
    ``after`` next time. Sequence numbers are gapless per organization, so nothing is missed or repeated."""
    query = load_query(EventQuery(), lists=("type",))
    page = services().webhooks.events(
        principal().org.id, after=query["after"], limit=query["limit"], types=query.get("type")
    )
    return jsonify(events=[out.event(e) for e in page.events], next_cursor=page.next_cursor)


# -- endpoints -------------------------------------------------------------------------------------------------
@bp.get("/webhooks/event-types")
@access(Access.ADMIN)
def list_event_types() -> ResponseReturnValue:
    return jsonify(event_types=list(services().webhooks.event_types()))


@bp.get("/webhooks")
@access(Access.ADMIN)
def list_webhooks() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().webhooks.list(principal().org.id))
    return jsonify(paging.body(items, total, out.webhook))


@bp.post("/webhooks")
@access(Access.ADMIN)
def create_webhook() -> ResponseReturnValue:
    """Without ``event_types`` (or with ``["*"]``) the endpoint receives every type."""
    body = load_body(WebhookBody())
    caller = principal()
    issued = services().webhooks.create(
        caller.org.id,
        body["url"],
        caller.actor(),
        event_types=body.get("event_types"),
        description=body.get("description"),
    )
    return jsonify({**out.webhook(issued.endpoint), "secret": issued.secret}), 201


@bp.get("/webhooks/<endpoint_id>")
@access(Access.ADMIN)
def get_webhook(endpoint_id: str) -> ResponseReturnValue:
    return jsonify(out.webhook(services().webhooks.get(principal().org.id, endpoint_id)))


@bp.patch("/webhooks/<endpoint_id>")
@access(Access.ADMIN)
def patch_webhook(endpoint_id: str) -> ResponseReturnValue:
    """Change what is given; ``enabled: false`` pauses delivery (events keep queueing, in order)."""
    body = load_body(WebhookPatch())
    caller = principal()
    endpoint = services().webhooks.update(
        caller.org.id,
        endpoint_id,
        caller.actor(),
        url=body.get("url"),
        event_types=body.get("event_types"),
        description=body.get("description"),
        enabled=body.get("enabled"),
    )
    return jsonify(out.webhook(endpoint))


@bp.delete("/webhooks/<endpoint_id>")
@access(Access.ADMIN)
def delete_webhook(endpoint_id: str) -> ResponseReturnValue:
    """Removes the endpoint with its queued deliveries and their log."""
    caller = principal()
    services().webhooks.remove(caller.org.id, endpoint_id, caller.actor())
    return "", 204


@bp.post("/webhooks/<endpoint_id>/rotate-secret")
@access(Access.ADMIN)
def rotate_webhook_secret(endpoint_id: str) -> ResponseReturnValue:
    caller = principal()
    issued = services().webhooks.rotate_secret(caller.org.id, endpoint_id, caller.actor())
    return jsonify({**out.webhook(issued.endpoint), "secret": issued.secret})


# -- deliveries ------------------------------------------------------------------------------------------------
@bp.get("/webhook-deliveries")
@access(Access.ADMIN)
def list_deliveries() -> ResponseReturnValue:
    """Webhook deliveries and invitation emails, newest first; ``?status=dead`` is what may need a replay."""
    query = load_query(DeliveryQuery())
    paging = Paging.of(query)
    org_id = principal().org.id
    if "endpoint_id" in query:
        services().webhooks.get(org_id, query["endpoint_id"])  # 404 for another organization's endpoint
    items, total = services().webhooks.deliveries(
        org_id,
        kind=query.get("kind"),
        status=query.get("status"),
        endpoint_id=query.get("endpoint_id"),
        offset=paging.offset,
        limit=paging.limit,
    )
    return jsonify(paging.body(items, total, out.delivery))


@bp.get("/webhook-deliveries/<delivery_id>")
@access(Access.ADMIN)
def get_delivery(delivery_id: str) -> ResponseReturnValue:
    message, attempts = services().webhooks.delivery(principal().org.id, delivery_id)
    return jsonify(out.delivery_log(message, attempts))


@bp.post("/webhook-deliveries/<delivery_id>/replay")
@access(Access.ADMIN)
def replay_delivery(delivery_id: str) -> ResponseReturnValue:
    """Queue a dead or delivered webhook again (same ``webhook-id``), or a dead invitation email whose
    invitation is still pending; ``409`` while it is queued."""
    caller = principal()
    return jsonify(out.delivery(services().webhooks.replay(caller.org.id, delivery_id, caller.actor())))


@bp.post("/webhook-deliveries/replay-dead")
@access(Access.ADMIN)
def replay_dead_deliveries() -> ResponseReturnValue:
    body = load_body(ReplayDeadBody())
    caller = principal()
    endpoint_id = body.get("endpoint_id")
    if endpoint_id is not None:
        services().webhooks.get(caller.org.id, endpoint_id)
    count = services().webhooks.replay_dead(caller.org.id, caller.actor(), endpoint_id=endpoint_id)
    return jsonify(replayed=count)
