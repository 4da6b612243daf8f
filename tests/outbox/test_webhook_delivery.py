"""Webhooks to a real receiver on loopback: every signature verified with the ``standardwebhooks`` package,
every membership change of a provisioning run seen exactly once and in order, failures retried without loss,
dead letters replayed."""

from __future__ import annotations

from typing import Any

from standardwebhooks.webhooks import Webhook

from gateway.domain import model as m
from gateway.services.members import Profile
from gateway.storage.outbox_tables import MessageKind, MessageStatus

from .conftest import CLI, Outbox, Receiver

IDP = m.Actor(m.ActorType.SCIM_TOKEN, id="scim-token-1", label="Okta SCIM")


def verified(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every received request, verified exactly like a Standard Webhooks consumer does."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in receiver.received]


def provisioning_run(outbox: Outbox, org: m.Organization) -> list[tuple[str, str]]:
    """What the SCIM adapter does for an IdP push: create, update, deactivate, reactivate, delete."""
    members = outbox.services.members
    ada = members.provision(org.id, "ada@acme.test", m.Role.MEMBER, IDP, Profile(display_name="Ada"))
    bob = members.provision(org.id, "bob@acme.test", m.Role.MEMBER, IDP, Profile(display_name="Bob"))
    members.change_role(org.id, ada.id, m.Role.ADMIN, IDP)
    members.suspend(org.id, bob.id, IDP)
    members.restore(org.id, bob.id, IDP)
    members.remove(org.id, bob.id, IDP, source=m.RemovalSource.SCIM)
    return [
        ("member.created", ada.id),
        ("member.created", bob.id),
        ("member.updated", ada.id),
        ("member.suspended", bob.id),
        ("member.restored", bob.id),
        ("member.removed", bob.id),
    ]


def sso_org(outbox: Outbox) -> m.Organization:
    org = outbox.org("Acme", m.MembershipMode.INVITATION)
    outbox.services.connections.add(org.id, m.ConnectionProtocol.SAML, "okta", CLI)
    outbox.services.mode.apply(org.id, m.MembershipMode.SSO, CLI)
    return org


def test_every_change_of_a_provisioning_run_arrives_signed_once_and_in_order(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = sso_org(outbox)
    issued = outbox.webhooks.create(org.id, receiver.url, CLI)
    expected = provisioning_run(outbox, org)

    outbox.worker(concurrency=4, batch_size=3).drain()

    events = verified(receiver, issued.secret)
    assert [(e["type"], e["data"]["member"]["id"]) for e in events] == expected
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == len(expected)
    assert all(r.headers["webhook-id"] == e["id"] for r, e in zip(receiver.received, events, strict=True))
    removed = events[-1]
    assert removed["data"]["member"]["status"] == "removed"
    assert removed["data"]["member"]["removed_by"] == "scim"
    assert removed["data"]["actor"] == {"type": "scim_token", "id": "scim-token-1", "label": "Okta SCIM"}
    assert removed["organization"] == {"id": org.id, "slug": org.slug}


def test_a_receiver_answering_500_for_a_while_gets_every_event_later_in_order(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = sso_org(outbox)
    issued = outbox.webhooks.create(
        org.id, receiver.url, CLI, event_types=["member.created", "member.removed"]
    )
    expected = [t for t in provisioning_run(outbox, org) if t[0] in ("member.created", "member.removed")]
    receiver.fail_next = 3
    worker = outbox.worker(batch_size=10)

    for _ in range(10):
        worker.drain()
        outbox.clock.advance(seconds=16)

    delivered = [e for e in verified(receiver, issued.secret)]
    failed, succeeded = delivered[:3], delivered[3:]
    first = expected[0]
    assert all((e["type"], e["data"]["member"]["id"]) == first for e in failed), "the head is retried alone"
    assert [(e["type"], e["data"]["member"]["id"]) for e in succeeded] == expected
    messages, _ = outbox.webhooks.deliveries(org.id, kind=MessageKind.WEBHOOK)
    assert {msg.status for msg in messages} == {MessageStatus.DELIVERED}
    head = min(messages, key=lambda msg: msg.seq or 0)
    _, log = outbox.webhooks.delivery(org.id, head.id)
    assert [(a.succeeded, a.status_code) for a in log] == [(False, 500)] * 3 + [(True, 204)]


def test_a_later_event_waits_for_the_earlier_one_of_the_same_endpoint(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, receiver.url, CLI)
    outbox.services.invitations.create(org.id, "a@acme.test", m.Role.MEMBER, CLI)
    outbox.services.invitations.create(org.id, "b@acme.test", m.Role.MEMBER, CLI)
    receiver.fail_next = 1
    worker = outbox.worker(batch_size=10)

    worker.drain()
    assert [b["data"]["invitation"]["email"] for b in receiver.bodies()] == ["a@acme.test"]
    outbox.clock.advance(seconds=2)
    worker.drain()
    assert [b["data"]["invitation"]["email"] for b in receiver.bodies()] == [
        "a@acme.test",
        "a@acme.test",
        "b@acme.test",
    ]


def test_a_message_that_keeps_failing_is_dead_lettered_and_an_admin_replay_delivers_it(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = outbox.org()
    issued = outbox.webhooks.create(org.id, receiver.url, CLI)
    outbox.services.invitations.create(org.id, "a@acme.test", m.Role.MEMBER, CLI)
    receiver.fail_next = 100
    worker = outbox.worker()
    for _ in range(8):
        worker.drain()
        outbox.clock.advance(seconds=16)

    [dead], total = outbox.webhooks.deliveries(org.id, status=MessageStatus.DEAD)
    assert total == 1 and dead.attempts == 5 and dead.last_status_code == 500
    assert len(receiver.received) == 5

    receiver.fail_next = 0
    outbox.webhooks.replay(org.id, dead.id, CLI)
    worker.drain()
    events = verified(receiver, issued.secret)
    assert len(events) == 6 and events[-1]["type"] == "invitation.sent"
    assert receiver.received[-1].headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    message, log = outbox.webhooks.delivery(org.id, dead.id)
    assert message.status is MessageStatus.DELIVERED
    assert [a.succeeded for a in log] == [False] * 5 + [True]


def test_events_after_a_dead_letter_are_not_held_back(outbox: Outbox, receiver: Receiver) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, receiver.url, CLI)
    outbox.services.invitations.create(org.id, "a@acme.test", m.Role.MEMBER, CLI)
    receiver.fail_next = 5
    worker = outbox.worker()
    for _ in range(6):
        worker.drain()
        outbox.clock.advance(seconds=16)
    outbox.services.invitations.create(org.id, "b@acme.test", m.Role.MEMBER, CLI)
    worker.drain()
    assert receiver.bodies()[-1]["data"]["invitation"]["email"] == "b@acme.test"


def test_a_disabled_endpoint_keeps_its_events_until_enabled_again(outbox: Outbox, receiver: Receiver) -> None:
    org = outbox.org()
    endpoint = outbox.webhooks.create(org.id, receiver.url, CLI).endpoint
    outbox.webhooks.update(org.id, endpoint.id, CLI, enabled=False)
    outbox.services.invitations.create(org.id, "a@acme.test", m.Role.MEMBER, CLI)
    worker = outbox.worker()
    worker.drain()
    assert receiver.received == []
    outbox.webhooks.update(org.id, endpoint.id, CLI, enabled=True)
    assert worker.drain() == 1
    assert [b["type"] for b in receiver.bodies()] == ["invitation.sent"]


def test_a_mode_switch_announces_each_revoked_invitation_and_disabled_token(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = sso_org(outbox)
    outbox.services.credentials.create_scim_token(org.id, CLI)
    outbox.webhooks.create(org.id, receiver.url, CLI)
    outbox.services.mode.apply(org.id, m.MembershipMode.INVITATION, CLI)
    outbox.worker().drain()
    types = [b["type"] for b in receiver.bodies()]
    assert types == ["mode.switched", "scim_token.disabled", "connection.disabled"]
    assert receiver.bodies()[0]["data"]["details"]["to"] == "invitation"
