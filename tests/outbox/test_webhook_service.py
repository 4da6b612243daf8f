"""Webhook endpoints as an Admin manages them: validated URLs, secrets shown once, org scoping, replay rules,
and the ordered event feed behind ``GET /api/v1/events``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Conflict, InvalidInput, NotFound
from gateway.outbox.sealing import Sealer
from gateway.services.webhooks import WebhookService
from gateway.storage.outbox_tables import MessageStatus

from .conftest import CLI, Outbox


def public_only(outbox: Outbox, addresses: dict[str, list[str]]) -> WebhookService:
    return WebhookService(
        outbox.db, outbox.clock, outbox.services.orgs.tokens, outbox.services.listeners,
        sealer=outbox.sealer, allow_private_targets=False,
        resolver=lambda host, port: addresses.get(host, []),
    )  # fmt: skip


def test_the_secret_is_shown_once_and_stored_only_sealed(outbox: Outbox) -> None:
    org = outbox.org()
    issued = outbox.webhooks.create(org.id, "http://127.0.0.1:8080/hook", CLI, description="platform")
    assert issued.secret.startswith("whsec_")
    stored = outbox.webhooks.get(org.id, issued.endpoint.id)
    assert issued.secret not in stored.sealed_secret
    assert outbox.sealer.open(stored.sealed_secret) == issued.secret
    assert issued.secret not in repr(stored)
    rotated = outbox.webhooks.rotate_secret(org.id, issued.endpoint.id, CLI)
    assert rotated.secret != issued.secret
    with pytest.raises(ValueError):
        Sealer("another-secret-key").open(outbox.webhooks.get(org.id, issued.endpoint.id).sealed_secret)
    actions = [e.action for e in outbox.services.audit.list(org.id)[0]]
    assert "webhook.created" in actions and "webhook.secret_rotated" in actions


def test_a_private_target_is_refused_outside_development_and_nothing_is_saved(outbox: Outbox) -> None:
    service = public_only(outbox, {"internal.example.com": ["93.184.216.34", "10.1.2.3"]})
    org = outbox.org()
    with pytest.raises(InvalidInput, match="loopback, private or reserved"):
        service.create(org.id, "https://internal.example.com/x", CLI)
    assert service.list(org.id) == []


def test_a_public_https_url_is_accepted_outside_development(outbox: Outbox) -> None:
    service = public_only(outbox, {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    org = outbox.org()
    endpoint = service.create(org.id, " https://hooks.example.com/gateway ", CLI).endpoint
    assert endpoint.url == "https://hooks.example.com/gateway"


def test_event_types_are_checked_against_the_catalog(outbox: Outbox) -> None:
    org = outbox.org()
    with pytest.raises(InvalidInput, match=r"member\.exploded"):
        outbox.webhooks.create(org.id, "http://127.0.0.1/h", CLI, event_types=["member.exploded"])
    endpoint = outbox.webhooks.create(
        org.id, "http://127.0.0.1/h", CLI, event_types=["member.removed", "member.created", "member.created"]
    ).endpoint
    assert endpoint.event_types == ["member.created", "member.removed"]
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    assert outbox.webhooks.deliveries(org.id, endpoint_id=endpoint.id)[1] == 0
    outbox.services.members.add_admin(org.id, "admin@acme.test", CLI)
    assert outbox.webhooks.deliveries(org.id, endpoint_id=endpoint.id)[1] == 1


def test_another_organization_cannot_see_change_or_replay_an_endpoint(outbox: Outbox) -> None:
    acme, globex = outbox.org("Acme"), outbox.org("Globex")
    endpoint = outbox.webhooks.create(acme.id, "http://127.0.0.1/h", CLI).endpoint
    outbox.services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, CLI)
    [delivery], _ = outbox.webhooks.deliveries(acme.id, endpoint_id=endpoint.id)
    assert outbox.webhooks.list(globex.id) == []
    assert outbox.webhooks.deliveries(globex.id) == ([], 0)
    assert outbox.webhooks.events(globex.id).events == []
    for call in (
        lambda: outbox.webhooks.get(globex.id, endpoint.id),
        lambda: outbox.webhooks.update(globex.id, endpoint.id, CLI, enabled=False),
        lambda: outbox.webhooks.remove(globex.id, endpoint.id, CLI),
        lambda: outbox.webhooks.delivery(globex.id, delivery.id),
        lambda: outbox.webhooks.replay(globex.id, delivery.id, CLI),
    ):
        with pytest.raises(NotFound):
            call()


def test_replay_refuses_a_queued_delivery_and_an_email_whose_link_is_gone(outbox: Outbox) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, "http://127.0.0.1:9/h", CLI)
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    messages, _ = outbox.webhooks.deliveries(org.id)
    webhook = next(msg for msg in messages if msg.kind.value == "webhook")
    with pytest.raises(Conflict, match="already queued"):
        outbox.webhooks.replay(org.id, webhook.id, CLI)
    outbox.worker().drain()  # the recording mailer takes the email
    email = next(msg for msg in outbox.webhooks.deliveries(org.id)[0] if msg.kind.value == "email")
    assert email.status is MessageStatus.DELIVERED
    with pytest.raises(Conflict, match="Resend the invitation"):
        outbox.webhooks.replay(org.id, email.id, CLI)


def test_removing_an_endpoint_drops_its_queue(outbox: Outbox) -> None:
    org = outbox.org()
    endpoint = outbox.webhooks.create(org.id, "http://127.0.0.1:9/h", CLI).endpoint
    outbox.services.members.add_admin(org.id, "admin@acme.test", CLI)
    outbox.webhooks.remove(org.id, endpoint.id, CLI)
    assert outbox.webhooks.deliveries(org.id)[1] == 0
    assert outbox.webhooks.events(org.id).events, "the event log is kept"


def test_the_event_feed_pages_with_a_cursor(outbox: Outbox) -> None:
    org = outbox.org()
    for i in range(5):
        outbox.services.members.add_admin(org.id, f"a{i}@acme.test", CLI)
    first = outbox.webhooks.events(org.id, after=0, limit=2)
    assert [e.seq for e in first.events] == [1, 2] and first.next_cursor == 2
    rest = outbox.webhooks.events(org.id, after=first.next_cursor, limit=100)
    assert [e.seq for e in rest.events] == [3, 4, 5] and rest.next_cursor == 5
    empty = outbox.webhooks.events(org.id, after=5)
    assert empty.events == [] and empty.next_cursor == 5
    assert [e.payload["data"]["member"]["email"] for e in rest.events] == [
        f"a{i}@acme.test" for i in (2, 3, 4)
    ]
    with pytest.raises(InvalidInput):
        outbox.webhooks.events(org.id, after=-1)
    with pytest.raises(InvalidInput):
        outbox.webhooks.events(org.id, limit=0)


def test_purging_drops_old_finished_deliveries_but_keeps_dead_ones_and_the_events(outbox: Outbox) -> None:
    org = outbox.org()
    outbox.webhooks.create(org.id, "http://127.0.0.1:9/h", CLI)  # nothing listens: the webhook will die
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    worker = outbox.worker()
    for _ in range(6):
        worker.drain()
        outbox.clock.advance(seconds=16)
    assert outbox.webhooks.stats(org.id) == {"delivered": 1, "dead": 1}
    assert outbox.webhooks.purge_finished(timedelta(days=1)) == 0
    outbox.clock.advance(days=2)
    assert outbox.webhooks.purge_finished(timedelta(days=1)) == 1
    assert outbox.webhooks.stats(org.id) == {"dead": 1}
    assert len(outbox.webhooks.events(org.id).events) == 1
