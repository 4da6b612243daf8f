"""Invitation emails through a real SMTP server on loopback: sent, read, followed, accepted; retried while the
server is down; a resend mails the new link and kills the old one."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.domain import model as m
from gateway.domain.errors import InvitationInvalid
from gateway.storage.outbox_store import OutboxStore
from gateway.storage.outbox_tables import MessageKind, MessageStatus

from .conftest import CLI, PUBLIC_URL, Outbox, SmtpServer, free_port


def link_in(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    links = re.findall(r"https?://\S+", text)
    assert len(links) == 1, text
    return links[0]


def token_of(link: str) -> str:
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    assert parts.path == "/invitations/accept"
    return parse_qs(parts.query)["token"][0]


def email_messages(outbox: Outbox, org_id: str) -> list:
    with outbox.db.transaction() as tx:
        return OutboxStore(tx).messages(org_id, kind=MessageKind.EMAIL)[0]


def test_invitation_email_arrives_and_its_link_accepts_the_invitation(
    outbox: Outbox, smtp: SmtpServer
) -> None:
    org = outbox.org("Acme Research")
    outbox.services.members.add_admin(org.id, "admin@acme.test", CLI)
    admin = m.Actor(m.ActorType.ADMIN, id="admin-1", label="Ada Admin")
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, admin)

    assert outbox.worker(smtp.mailer()).drain() == 1

    [mail] = smtp.inbox.messages
    assert mail["To"] == "bob@acme.test"
    assert "Acme Research" in mail["Subject"] and "Ada Admin" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    expires = issued.invitation.expires_at
    for body in (text, html):
        assert "Acme Research" in body and "Ada Admin" in body
        assert f"{expires.day} {expires:%B %Y}" in body
    link = link_in(mail)
    assert link.replace("&", "&amp;") in html or link in html

    token = token_of(link)
    assert outbox.services.invitations.peek(token).id == issued.invitation.id
    member = outbox.services.invitations.accept(token, "bob@acme.test", CLI)
    assert member.email == "bob@acme.test" and member.status is m.MemberStatus.ACTIVE

    [message] = email_messages(outbox, org.id)
    assert message.status is MessageStatus.DELIVERED
    assert message.sealed_token is None, "the link's token is erased once the email is sent"
    assert outbox.worker(smtp.mailer()).drain() == 0, "delivered once, never again"
    assert len(smtp.inbox.messages) == 1


def test_email_is_retried_while_smtp_is_down_and_arrives_once_it_is_back(outbox: Outbox) -> None:
    org = outbox.org()
    server = SmtpServer(free_port())
    worker = outbox.worker(server.mailer())
    outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)

    assert worker.drain() == 1  # refused connection: a failed attempt, retried later
    assert worker.drain() == 0, "not due again before its backoff"
    outbox.clock.advance(seconds=2)
    assert worker.drain() == 1  # still down
    [message] = email_messages(outbox, org.id)
    assert message.status is MessageStatus.PENDING and message.attempts == 2
    assert "cannot reach the SMTP server" in (message.last_error or "")

    server.start()
    try:
        outbox.clock.advance(seconds=3)
        assert worker.drain() == 0, "backoff doubled: 4 seconds after the second failure"
        outbox.clock.advance(seconds=1)
        assert worker.drain() == 1
        outbox.clock.advance(minutes=10)
        assert worker.drain() == 0
    finally:
        server.stop()
    [mail] = server.inbox.messages
    assert outbox.services.invitations.peek(token_of(link_in(mail))).email == "bob@acme.test"
    [message] = email_messages(outbox, org.id)
    assert message.status is MessageStatus.DELIVERED and message.attempts == 3


def test_a_resend_mails_the_new_link_and_the_old_link_stops_working(outbox: Outbox, smtp: SmtpServer) -> None:
    org = outbox.org()
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    worker = outbox.worker(smtp.mailer())
    worker.drain()
    outbox.clock.advance(days=2)
    outbox.services.invitations.resend(org.id, issued.invitation.id, CLI)
    worker.drain()

    first, second = smtp.inbox.messages
    old, new = token_of(link_in(first)), token_of(link_in(second))
    assert old != new
    with pytest.raises(InvitationInvalid):
        outbox.services.invitations.peek(old)
    assert outbox.services.invitations.accept(new, "bob@acme.test", CLI).email == "bob@acme.test"


def test_an_unsent_email_is_superseded_by_a_resend_so_only_the_new_link_is_mailed(
    outbox: Outbox, smtp: SmtpServer
) -> None:
    org = outbox.org()
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    resent = outbox.services.invitations.resend(org.id, issued.invitation.id, CLI)
    outbox.worker(smtp.mailer()).drain()

    [mail] = smtp.inbox.messages
    assert token_of(link_in(mail)) == resent.token
    statuses = sorted(msg.status.value for msg in email_messages(outbox, org.id))
    assert statuses == ["cancelled", "delivered"]
    assert all(msg.sealed_token is None for msg in email_messages(outbox, org.id))


def test_no_email_goes_out_for_an_invitation_revoked_before_delivery(
    outbox: Outbox, smtp: SmtpServer
) -> None:
    org = outbox.org()
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    outbox.services.invitations.revoke(org.id, issued.invitation.id, CLI)
    outbox.worker(smtp.mailer()).drain()

    assert smtp.inbox.messages == []
    [message] = email_messages(outbox, org.id)
    assert message.status is MessageStatus.CANCELLED and "revoked" in (message.last_error or "")
    assert message.sealed_token is None


def test_the_token_is_stored_only_sealed_until_the_email_is_sent(outbox: Outbox) -> None:
    org = outbox.org()
    issued = outbox.services.invitations.create(org.id, "bob@acme.test", m.Role.MEMBER, CLI)
    [message] = email_messages(outbox, org.id)
    assert message.sealed_token and issued.token not in message.sealed_token
    assert outbox.sealer.open(message.sealed_token) == issued.token
