"""End to end: a SCIM provisioning run over HTTP against the real app, its webhooks received on loopback and
verified with the ``standardwebhooks`` package, every membership change exactly once and in order."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook

from gateway.domain import model as m
from gateway.outbox import build_worker
from gateway.outbox.events import event_type_for
from gateway.services import Services

from .conftest import CLI, Receiver

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.client.open(f"/scim/v2{path}", method=method, json=body, headers=self.headers)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json(force=True) if response.data else None

    def create(self, email: str, name: str) -> str:
        body = {"schemas": [USER], "userName": email, "displayName": name, "active": True,
                "emails": [{"value": email, "primary": True, "type": "work"}]}  # fmt: skip
        return str(self.call("POST", "/Users", body, status=201)["id"])

    def patch(self, user_id: str, value: dict[str, Any]) -> None:
        self.call(
            "PATCH",
            f"/Users/{user_id}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": value}]},
        )


def test_a_scim_provisioning_run_is_delivered_signed_once_and_in_order(
    app: Flask, client: FlaskClient, app_services: Services, wall: Any, receiver: Receiver
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    token = app_services.credentials.create_scim_token(org.id, CLI).token
    secret = app_services.webhooks.create(org.id, receiver.url, CLI).secret
    scim = Scim(client, token)

    ada = scim.create("ada@acme.test", "Ada")
    bob = scim.create("bob@acme.test", "Bob")
    scim.patch(ada, {"displayName": "Ada Lovelace"})
    scim.patch(bob, {"active": False})
    scim.patch(bob, {"active": True})
    scim.call("DELETE", f"/Users/{bob}", status=204)

    with app.app_context():
        build_worker(app).drain()

    hook = Webhook(secret)
    events = [hook.verify(r.body, r.headers) for r in receiver.received]
    lifecycle = [(e["type"], e["data"]["member"]["id"]) for e in events if e["type"] != "member.updated"]
    assert lifecycle == [
        ("member.created", ada),
        ("member.created", bob),
        ("member.suspended", bob),
        ("member.restored", bob),
        ("member.removed", bob),
    ]
    renamed = [e for e in events if e["type"] == "member.updated" and e["data"]["member"]["id"] == ada]
    assert renamed and renamed[0]["data"]["member"]["display_name"] == "Ada Lovelace"
    assert events[-1]["data"]["member"]["removed_by"] == "scim"
    assert all(e["data"]["actor"]["type"] == "scim_token" for e in events)

    trail = sorted(app_services.audit.list(org.id, limit=500)[0], key=lambda event: event.id or 0)
    published = [
        a.action for a in trail if a.actor_type is m.ActorType.SCIM_TOKEN and event_type_for(a.action)
    ]
    assert [e["data"]["action"] for e in events] == published, "exactly the audit trail, in its order"
    assert [e["sequence"] for e in events] == sorted(e["sequence"] for e in events)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(events)
