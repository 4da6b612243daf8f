"""The outbox writer: rows are written in the same transaction as the change, so nothing is announced that did
not happen and nothing that happened is lost; per-organization sequence numbers are gapless and ordered."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gateway.domain import model as m
from gateway.domain.errors import EmailTaken, LastAdmin
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import MessageKind
from gateway.storage.store import Store

from .conftest import CLI, Outbox, Receiver


def all_events(outbox: Outbox, org_id: str) -> list[tuple[int, str]]:
    return [(e.seq, e.type) for e in outbox.webhooks.events(org_id, limit=500).events]


def test_each_membership_change_writes_one_event_in_order(outbox: Outbox) -> None:
    org = outbox.org()
    svc = outbox.services
    admin = svc.members.add_admin(org.id, "admin@acme.test", CLI)
    issued = svc.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    resent = svc.invitations.resend(org.id, issued.invitation.id, CLI)
    bob = svc.invitations.accept(resent.token, "bob@acme.test", CLI)
    svc.members.suspend(org.id, bob.id, CLI)
    svc.members.restore(org.id, bob.id, CLI)
    svc.members.remove(org.id, bob.id, CLI)
    svc.credentials.create_scim_token(org.id, CLI)
    assert admin.role is m.Role.ADMIN
    assert all_events(outbox, org.id) == list(
        enumerate(
            [
                "member.created",
                "invitation.sent",
                "invitation.sent",
                "member.created",
                "invitation.accepted",
                "member.suspended",
                "member.restored",
                "member.removed",
                "scim_token.created",
            ],
            start=1,
        )
    )


def test_a_refused_change_writes_nothing(outbox: Outbox) -> None:
    org = outbox.org()
    admin = outbox.services.members.add_admin(org.id, "admin@acme.test", CLI)
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    before = all_events(outbox, org.id)
    with pytest.raises(EmailTaken):
        outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    with pytest.raises(LastAdmin):
        outbox.services.members.remove(org.id, admin.id, CLI)
    assert all_events(outbox, org.id) == before
    with outbox.db.transaction() as tx:
        assert OutboxStore(tx).messages(org.id, kind=MessageKind.EMAIL)[1] == 1


def test_a_change_that_rolls_back_after_its_event_was_written_leaves_no_trace(outbox: Outbox) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, "http://127.0.0.1:9/hook", CLI)

    def fail_after_the_outbox(tx: Store, topic: str, payload: dict[str, Any]) -> None:
        if topic == "invitation.issued":
            raise RuntimeError("the database went away")

    outbox.services.listeners.append(fail_after_the_outbox)
    with pytest.raises(RuntimeError):
        outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    outbox.services.listeners.remove(fail_after_the_outbox)

    assert outbox.services.invitations.list(org.id)[1] == 0
    assert all_events(outbox, org.id) == []
    assert outbox.webhooks.deliveries(org.id)[1] == 0
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    assert all_events(outbox, org.id) == [(1, "invitation.sent")], "the rolled-back number is not a gap"


def test_sequences_are_per_organization(outbox: Outbox) -> None:
    acme, globex = outbox.org("Acme"), outbox.org("Globex")
    outbox.services.members.add_admin(acme.id, "a@acme.test", CLI)
    outbox.services.members.add_admin(globex.id, "g@globex.test", CLI)
    outbox.services.members.add_admin(acme.id, "b@acme.test", CLI)
    assert all_events(outbox, acme.id) == [(1, "member.created"), (2, "member.created")]
    assert all_events(outbox, globex.id) == [(1, "member.created")]


def test_concurrent_changes_get_gapless_numbers_in_commit_order(outbox: Outbox) -> None:
    org = outbox.org()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def invite(i: int) -> None:
        try:
            start.wait()
            for j in range(5):
                outbox.services.invitations.create(org.id, f"p{i}-{j}@acme.test", m.Role.MEMBER, CLI)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=invite, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = outbox.webhooks.events(org.id, limit=500).events
    assert [e.seq for e in events] == list(range(1, 21))


def test_events_carry_no_secret(outbox: Outbox) -> None:
    org = outbox.org()
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    scim = outbox.services.credentials.create_scim_token(org.id, CLI)
    text = repr([e.payload for e in outbox.webhooks.events(org.id).events])
    for secret in (issued.token, issued.invitation.token_hash, scim.token, scim.scim_token.token_hash):
        assert secret not in text
    assert scim.scim_token.prefix in text


def test_an_expired_invitation_is_announced_once_and_again_after_a_resend_expires(
    outbox: Outbox, receiver: Receiver
) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, receiver.url, CLI, event_types=["invitation.expired"])
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    worker = outbox.worker()
    worker.drain()
    assert receiver.received == []

    outbox.clock.advance(days=7)
    worker.drain()
    outbox.clock.advance(minutes=5)
    worker.drain()
    [expired] = receiver.bodies()
    assert expired["data"]["invitation"]["id"] == issued.invitation.id
    assert expired["data"]["invitation"]["status"] == "expired"
    assert expired["data"]["actor"]["type"] == "system"

    outbox.services.invitations.resend(org.id, issued.invitation.id, CLI)
    outbox.clock.advance(days=8)
    worker.drain()
    assert [b["type"] for b in receiver.bodies()] == ["invitation.expired", "invitation.expired"]
