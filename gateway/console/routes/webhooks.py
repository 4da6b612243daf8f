"""Webhooks: endpoints (added with their signing secret shown once, event types, enable/disable, secret
rotation, removal), the delivery log with every attempt, and dead letters to retry (one or all) or replay.

Everything goes through ``WebhookService``, as the admin API does."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page, field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.domain.errors import DomainError
from gateway.storage.outbox_tables import MessageKind, MessageStatus
from gateway.wiring import services

STATUS_FILTERS = [("", "All"), *((s.value, s.value.capitalize()) for s in MessageStatus)]


def _no_store(html: str, status: int = 200) -> ResponseReturnValue:
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _endpoints_page(
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    new_secret: str | None = None,
    secret_for: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    org_id = viewer().org.id
    webhooks = services().webhooks
    html = render_template(
        "console/webhooks.html",
        title="Webhooks",
        section="console.webhooks",
        endpoints=webhooks.list(org_id),
        stats=webhooks.stats(org_id),
        event_types=webhooks.event_types(),
        errors=errors,
        form=form or {"event_types": []},
        new_secret=new_secret,
        secret_for=secret_for,
    )
    return _no_store(html, status)


@bp.get("/webhooks")
@admin_page
def webhooks() -> ResponseReturnValue:
    return _endpoints_page()


@bp.post("/webhooks")
def create_webhook() -> ResponseReturnValue:
    chosen = [t for t in request.form.getlist("event_types") if t][:100]
    form = {"url": text("url", 2048), "description": text("description", 300), "event_types": chosen}
    try:
        issued = services().webhooks.create(
            viewer().org.id,
            str(form["url"]),
            viewer().actor(),
            event_types=chosen,
            description=str(form["description"]),
        )
    except DomainError as error:
        return _endpoints_page(errors=field_errors(error, "url"), form=form, status=400)
    return _endpoints_page(new_secret=issued.secret, secret_for=issued.endpoint.url)


@bp.post("/webhooks/<endpoint_id>/enabled")
def set_webhook_enabled(endpoint_id: str) -> ResponseReturnValue:
    enabled = text("enabled") == "1"
    endpoint = services().webhooks.update(viewer().org.id, endpoint_id, viewer().actor(), enabled=enabled)
    state = "enabled: deliveries resume in order" if enabled else "disabled: events wait until it is enabled"
    flash(f"The endpoint {endpoint.url} is {state}.", "ok")
    return redirect(url_for("console.webhooks"), code=303)


@bp.post("/webhooks/<endpoint_id>/event-types")
def set_webhook_event_types(endpoint_id: str) -> ResponseReturnValue:
    chosen = [t for t in request.form.getlist("event_types") if t][:100]
    try:
        endpoint = services().webhooks.update(
            viewer().org.id, endpoint_id, viewer().actor(), event_types=chosen
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("console.webhooks"), code=303)
    flash(
        f"The endpoint {endpoint.url} now receives {', '.join(endpoint.event_types) or 'every event type'}.",
        "ok",
    )
    return redirect(url_for("console.webhooks"), code=303)


@bp.post("/webhooks/<endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id: str) -> ResponseReturnValue:
    issued = services().webhooks.rotate_secret(viewer().org.id, endpoint_id, viewer().actor())
    return _endpoints_page(new_secret=issued.secret, secret_for=issued.endpoint.url)


@bp.post("/webhooks/<endpoint_id>/remove")
def remove_webhook(endpoint_id: str) -> ResponseReturnValue:
    endpoint = services().webhooks.get(viewer().org.id, endpoint_id)
    services().webhooks.remove(viewer().org.id, endpoint_id, viewer().actor())
    flash(f"The endpoint {endpoint.url} is removed, with its queued deliveries.", "ok")
    return redirect(url_for("console.webhooks"), code=303)


# -- deliveries ----------------------------------------------------------------------------------------------
@bp.get("/webhooks/deliveries")
@admin_page
def webhook_deliveries() -> ResponseReturnValue:
    org_id = viewer().org.id
    wanted = request.args.get("status") or ""
    status = MessageStatus(wanted) if wanted in {s.value for s in MessageStatus} else None
    endpoint_id = request.args.get("hook") or None
    endpoints = {e.id: e for e in services().webhooks.list(org_id)}
    if endpoint_id not in endpoints:
        endpoint_id = None
    page = Page.from_request()
    items, total = services().webhooks.deliveries(
        org_id,
        kind=MessageKind.WEBHOOK,
        status=status,
        endpoint_id=endpoint_id,
        offset=page.offset,
        limit=page.size,
    )
    html = render_template(
        "console/webhook_deliveries.html",
        title="Webhook deliveries",
        section="console.webhooks",
        deliveries=items,
        page=page.with_total(total),
        endpoints=endpoints,
        endpoint_options=[("", "All endpoints"), *((e.id, e.url) for e in endpoints.values())],
        endpoint_id=endpoint_id or "",
        status_filter=status.value if status else "",
        status_filters=STATUS_FILTERS,
        stats=services().webhooks.stats(org_id),
    )
    return _no_store(html)


@bp.get("/webhooks/deliveries/<delivery_id>")
@admin_page
def webhook_delivery(delivery_id: str) -> ResponseReturnValue:
    message, attempts = services().webhooks.delivery(viewer().org.id, delivery_id)
    endpoint = services().webhooks.get(viewer().org.id, message.endpoint_id) if message.endpoint_id else None
    html = render_template(
        "console/webhook_delivery.html",
        title="Delivery",
        section="console.webhooks",
        message=message,
        attempts=attempts,
        endpoint=endpoint,
    )
    return _no_store(html)


@bp.post("/webhooks/deliveries/<delivery_id>/replay")
def replay_webhook_delivery(delivery_id: str) -> ResponseReturnValue:
    """Retry a dead letter, or replay a delivered event (same webhook id, so receivers can tell)."""
    try:
        message = services().webhooks.replay(viewer().org.id, delivery_id, viewer().actor())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"The {message.event_type} event is queued for delivery again.", "ok")
    back = request.form.get("back") or ""
    target = back if back.startswith("/admin/webhooks") else url_for("console.webhook_deliveries")
    return redirect(target, code=303)


@bp.post("/webhooks/deliveries/retry-dead")
def retry_dead_webhooks() -> ResponseReturnValue:
    endpoint_id = text("endpoint_id", 64) or None
    if endpoint_id:
        services().webhooks.get(viewer().org.id, endpoint_id)
    count = services().webhooks.replay_dead(viewer().org.id, viewer().actor(), endpoint_id=endpoint_id)
    flash(f"{count} dead deliver{'y is' if count == 1 else 'ies are'} queued again.", "ok")
    return redirect(url_for("console.webhook_deliveries", status="dead"), code=303)
