"""The event feed, webhook endpoints and the delivery log over the API (issue 7). Deliveries are made by the
real delivery worker against a loopback receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from api_helpers import API, CLI, Tenant, add_member, problem, sign_in
from api_peers import Peer
from flask import Flask
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.outbox import build_worker
from gateway.outbox.retry import RetryPolicy
from gateway.outbox.worker import DeliveryWorker
from gateway.services import Services

ONE_TRY = RetryPolicy(base=timedelta(seconds=1), max_attempts=1, jitter=0.0)


def _worker(app: Flask) -> DeliveryWorker:
    """The real worker, giving up after one failed attempt so a failing receiver dead-letters at once."""
    return build_worker(app, webhook_retry=ONE_TRY, concurrency=1)


def _add_webhook(client: FlaskClient, tenant: Tenant, url: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/webhooks", json={"url": url, **body}, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_a_webhook_secret_is_shown_once_when_created_and_when_rotated(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    created = _add_webhook(
        client, tenant, f"{peer.url}/hook", event_types=["member.removed", "member.created"], description="HR"
    )
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["member.created", "member.removed"] and created["enabled"] is True
    assert created["description"] == "HR" and created["created_by"]
    url = f"{API}/webhooks/{created['id']}"
    for response in (
        client.get(url, headers=tenant.auth),
        client.get(f"{API}/webhooks", headers=tenant.auth),
    ):
        assert response.status_code == 200
        assert created["secret"] not in response.get_data(as_text=True)
        assert "secret" not in response.get_data(as_text=True)
    assert client.get(f"{API}/webhooks", headers=tenant.auth).get_json()["total"] == 1

    rotated = client.post(f"{url}/rotate-secret", headers=tenant.auth)
    assert rotated.status_code == 200
    secret = rotated.get_json()["secret"]
    assert secret.startswith("whsec_") and secret != created["secret"]
    assert secret not in client.get(url, headers=tenant.auth).get_data(as_text=True)
    audit = client.get(f"{API}/audit-events?action=webhook.*", headers=tenant.auth)
    assert [e["action"] for e in audit.get_json()["items"]] == ["webhook.secret_rotated", "webhook.created"]
    assert created["secret"] not in audit.get_data(as_text=True) and secret not in audit.get_data(
        as_text=True
    )


def test_patch_changes_what_is_given_and_delete_removes(
    client: FlaskClient, tenant: Tenant, peer: Peer
) -> None:
    created = _add_webhook(client, tenant, f"{peer.url}/hook")
    assert created["event_types"] == ["*"]
    url = f"{API}/webhooks/{created['id']}"
    patched = client.patch(
        url,
        json={"enabled": False, "event_types": ["invitation.sent"], "url": f"{peer.url}/hook?v=2"},
        headers=tenant.auth,
    ).get_json()
    assert patched["enabled"] is False and patched["event_types"] == ["invitation.sent"]
    assert patched["url"].endswith("/hook?v=2") and patched["description"] == ""
    assert client.patch(url, json={"event_types": ["*"]}, headers=tenant.auth).get_json()["event_types"] == [
        "*"
    ]
    assert client.delete(url, headers=tenant.auth).status_code == 204
    problem(client.get(url, headers=tenant.auth), 404, "not-found")
    problem(client.delete(url, headers=tenant.auth), 404, "not-found")


def test_bad_webhook_input_is_refused_and_writes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    for body, status, code, field in (
        ({}, 422, "validation-failed", "url"),
        ({"url": f"{peer.url}/hook", "secret": "mine"}, 422, "validation-failed", "secret"),
        (
            {"url": f"{peer.url}/hook", "event_types": "member.created"},
            422,
            "validation-failed",
            "event_types",
        ),
        (
            {"url": f"{peer.url}/hook", "event_types": ["member.exploded"]},
            422,
            "invalid-input",
            "event_types",
        ),
        ({"url": "ftp://hooks.example.com/in"}, 422, "invalid-input", "url"),
        ({"url": "https://user:pw@hooks.example.com/in"}, 422, "invalid-input", "url"),
        ({"url": f"{peer.url}/hook", "description": "x" * 201}, 422, "validation-failed", "description"),
    ):
        response = client.post(f"{API}/webhooks", json=body, headers=tenant.auth)
        assert field in problem(response, status, code)["errors"], body
    assert client.get(f"{API}/webhooks", headers=tenant.auth).get_json()["total"] == 0

    created = _add_webhook(client, tenant, f"{peer.url}/hook")
    url = f"{API}/webhooks/{created['id']}"
    problem(client.patch(url, json={"event_types": ["nope"]}, headers=tenant.auth), 422, "invalid-input")
    problem(client.patch(url, json={"enabled": "maybe"}, headers=tenant.auth), 422, "validation-failed")
    problem(client.patch(url, json={"url": "gopher://x"}, headers=tenant.auth), 422, "invalid-input")
    assert client.get(url, headers=tenant.auth).get_json() == {
        k: v for k, v in created.items() if k != "secret"
    }


def test_event_types_are_listed(client: FlaskClient, tenant: Tenant) -> None:
    types = client.get(f"{API}/webhooks/event-types", headers=tenant.auth).get_json()["event_types"]
    assert "member.created" in types and "invitation.sent" in types and "group.deleted" in types


def test_the_event_feed_pages_with_a_cursor_and_filters_by_type(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    invited = client.post(f"{API}/invitations", json={"email": "cid@acme.test"}, headers=tenant.auth)
    client.delete(f"{API}/members/{bea.id}", headers=tenant.auth)

    first = client.get(f"{API}/events?limit=2", headers=tenant.auth).get_json()
    assert [e["sequence"] for e in first["events"]] == [1, 2] and first["next_cursor"] == 2
    rest = client.get(f"{API}/events?after={first['next_cursor']}", headers=tenant.auth).get_json()
    types = [e["type"] for e in first["events"] + rest["events"]]
    assert types[-2:] == ["invitation.sent", "member.removed"]
    sequences = [e["sequence"] for e in first["events"] + rest["events"]]
    assert sequences == list(range(1, len(sequences) + 1))
    assert rest["events"][-1]["data"]["member"]["email"] == "bea@acme.test"
    assert rest["events"][-1]["organization"]["id"] == tenant.org_id
    done = client.get(f"{API}/events?after={rest['next_cursor']}", headers=tenant.auth).get_json()
    assert done == {"events": [], "next_cursor": rest["next_cursor"]}

    only = client.get(f"{API}/events?type=member.removed,invitation.sent", headers=tenant.auth).get_json()
    assert [e["type"] for e in only["events"]] == ["invitation.sent", "member.removed"]
    repeated = client.get(f"{API}/events?type=member.removed&type=invitation.sent", headers=tenant.auth)
    assert repeated.get_json() == only
    assert invited.get_json()["token"] not in client.get(f"{API}/events", headers=tenant.auth).get_data(
        as_text=True
    )


@pytest.mark.parametrize("query", ["after=-1", "limit=0", "limit=501", "type=member.exploded", "after=x"])
def test_bad_event_queries_are_400(client: FlaskClient, tenant: Tenant, query: str) -> None:
    problem(client.get(f"{API}/events?{query}", headers=tenant.auth), 400, "validation-failed")


def test_events_of_another_organization_are_not_seen(
    client: FlaskClient, app_services: Services, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant("Globex")
    add_member(app_services, other.org_id, "zed@globex.test")
    mine = client.get(f"{API}/events", headers=tenant.auth).get_json()["events"]
    assert {e["organization"]["id"] for e in mine} == {tenant.org_id}
    assert "zed@globex.test" not in str(mine)


def test_a_dead_delivery_is_listed_logged_and_replayed(
    app: Flask, client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    hook = _add_webhook(client, tenant, f"{peer.url}/hook", event_types=["member.created"])
    add_member(app_services, tenant.org_id, "bea@acme.test")
    peer.hook_status = 500
    worker = _worker(app)
    worker.drain()

    dead = client.get(f"{API}/webhook-deliveries?status=dead", headers=tenant.auth).get_json()
    assert dead["total"] == 1
    [delivery] = dead["items"]
    assert delivery["kind"] == "webhook" and delivery["endpoint_id"] == hook["id"]
    assert delivery["event_type"] == "member.created" and delivery["last_status_code"] == 500
    url = f"{API}/webhook-deliveries/{delivery['id']}"
    log = client.get(url, headers=tenant.auth).get_json()
    assert [(a["number"], a["succeeded"], a["status_code"]) for a in log["attempt_log"]] == [(1, False, 500)]
    assert (
        client.get(f"{API}/webhook-deliveries?status=delivered", headers=tenant.auth).get_json()["total"] == 0
    )

    replayed = client.post(f"{url}/replay", headers=tenant.auth)
    assert replayed.status_code == 200 and replayed.get_json()["status"] == "pending"
    problem(client.post(f"{url}/replay", headers=tenant.auth), 409, "conflict")
    peer.hook_status = 204
    worker.drain()
    log = client.get(url, headers=tenant.auth).get_json()
    assert log["status"] == "delivered" and [a["succeeded"] for a in log["attempt_log"]] == [False, True]
    assert len(peer.hooks) == 2 and peer.hooks[0] == peer.hooks[1]
    assert client.post(f"{url}/replay", headers=tenant.auth).get_json()["status"] == "pending"


def test_replay_dead_requeues_every_dead_delivery(
    app: Flask, client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    hook = _add_webhook(client, tenant, f"{peer.url}/hook")
    for name in ("bea", "cid"):
        add_member(app_services, tenant.org_id, f"{name}@acme.test")
    peer.hook_status = 503
    _worker(app).drain()
    by_endpoint = f"{API}/webhook-deliveries?kind=webhook&endpoint_id={hook['id']}"
    assert client.get(f"{by_endpoint}&status=dead", headers=tenant.auth).get_json()["total"] >= 2
    dead = client.get(f"{API}/webhook-deliveries?status=dead", headers=tenant.auth).get_json()["total"]

    replay = client.post(
        f"{API}/webhook-deliveries/replay-dead", json={"endpoint_id": hook["id"]}, headers=tenant.auth
    )
    assert replay.status_code == 200 and replay.get_json() == {"replayed": dead}
    assert client.get(f"{API}/webhook-deliveries?status=dead", headers=tenant.auth).get_json()["total"] == 0
    assert client.post(f"{API}/webhook-deliveries/replay-dead", headers=tenant.auth).get_json() == {
        "replayed": 0
    }
    problem(
        client.post(
            f"{API}/webhook-deliveries/replay-dead", json={"endpoint_id": "nope"}, headers=tenant.auth
        ),
        404,
        "not-found",
    )


@pytest.mark.parametrize("query", ["status=lost", "kind=fax", "per_page=0"])
def test_bad_delivery_queries_are_400(client: FlaskClient, tenant: Tenant, query: str) -> None:
    problem(client.get(f"{API}/webhook-deliveries?{query}", headers=tenant.auth), 400, "validation-failed")


def test_another_organizations_webhooks_and_deliveries_are_404(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    make_tenant: Callable[..., Tenant],
    peer: Peer,
) -> None:
    other = make_tenant("Globex")
    theirs = _add_webhook(client, other, f"{peer.url}/hook")
    add_member(app_services, other.org_id, "zed@globex.test")
    delivery = app_services.webhooks.deliveries(other.org_id)[0][0]  # type: ignore[attr-defined]
    url = f"{API}/webhooks/{theirs['id']}"
    for response in (
        client.get(url, headers=tenant.auth),
        client.patch(url, json={"enabled": False}, headers=tenant.auth),
        client.delete(url, headers=tenant.auth),
        client.post(f"{url}/rotate-secret", headers=tenant.auth),
        client.get(f"{API}/webhook-deliveries?endpoint_id={theirs['id']}", headers=tenant.auth),
        client.get(f"{API}/webhook-deliveries/{delivery.id}", headers=tenant.auth),
        client.post(f"{API}/webhook-deliveries/{delivery.id}/replay", headers=tenant.auth),
    ):
        problem(response, 404, "not-found")
    assert client.get(f"{API}/webhook-deliveries", headers=tenant.auth).get_json()["total"] == 0
    assert client.get(f"{API}/webhooks", headers=tenant.auth).get_json()["total"] == 0
    assert app_services.webhooks.get(other.org_id, theirs["id"]).enabled is True  # type: ignore[attr-defined]


def test_invitation_emails_are_deliveries_without_their_link(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    sent = client.post(f"{API}/invitations", json={"email": "cid@acme.test"}, headers=tenant.auth).get_json()
    listed = client.get(f"{API}/webhook-deliveries?kind=email", headers=tenant.auth)
    [email] = listed.get_json()["items"]
    assert email["recipient"] == "cid@acme.test" and email["invitation_id"] == sent["invitation"]["id"]
    detail = client.get(f"{API}/webhook-deliveries/{email['id']}", headers=tenant.auth)
    for response in (listed, detail):
        assert sent["token"] not in response.get_data(as_text=True)
        assert "sealed" not in response.get_data(as_text=True)


def test_members_and_project_keys_cannot_reach_events_or_webhooks(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    key = app_services.credentials.create_project_key(tenant.org_id, tenant.default_project_id, bea.id, CLI)
    project_key = {"Authorization": f"Bearer {key.token}"}
    problem(client.get(f"{API}/events", headers=project_key), 403, "forbidden")
    sign_in(client, app_services, bea)
    for response in (
        client.get(f"{API}/events"),
        client.get(f"{API}/webhooks"),
        client.get(f"{API}/webhooks/event-types"),
        client.post(f"{API}/webhooks", json={"url": f"{peer.url}/hook"}),
        client.get(f"{API}/webhook-deliveries"),
        client.post(f"{API}/webhook-deliveries/replay-dead"),
    ):
        problem(response, 403, "forbidden")
    assert app_services.webhooks.list(tenant.org_id) == []  # type: ignore[attr-defined]
    assert bea.role is m.Role.MEMBER
