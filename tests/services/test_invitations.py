"""Rule 3: invitations are single-use, stored hashed, expire after 7 days, can be revoked and resent, and only
the invited verified email may accept them; an account of another organization must be migrated first."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import (
    AccountInOtherOrganization,
    AddressDomainOwned,
    EmailTaken,
    InvalidInput,
    InvitationEmailMismatch,
    InvitationExpired,
    InvitationInvalid,
    InvitationRevoked,
    InvitationUsed,
    NotFound,
)
from gateway.services import Services
from gateway.services.base import hash_token
from gateway.storage.db import Database

from .conftest import CLI, Clock, Org, invite_and_accept, make_org

ADA = m.Actor(m.ActorType.MEMBER, label="ada@acme.test")


def invite(services: Services, org: Org, email: str = "ada@acme.test", role: m.Role = m.Role.MEMBER):  # type: ignore[no-untyped-def]
    return services.invitations.create(org.id, email, role, org.by_admin)


def test_accepting_creates_the_member_with_the_invited_role(
    services: Services, acme: Org, clock: Clock
) -> None:
    issued = invite(services, acme, role=m.Role.ADMIN)
    clock.advance(days=1)

    member = services.invitations.accept(issued.token, "ada@acme.test", ADA)

    assert (member.email, member.role, member.status, member.joined_via) == (
        "ada@acme.test", m.Role.ADMIN, m.MemberStatus.ACTIVE, m.JoinPath.INVITATION,
    )  # fmt: skip
    stored = services.invitations.get(acme.id, issued.invitation.id)
    assert stored.status is m.InvitationStatus.ACCEPTED
    assert (stored.accepted_at, stored.accepted_member_id) == (clock.now, member.id)


def test_an_invitation_is_single_use(services: Services, acme: Org) -> None:
    issued = invite(services, acme)
    services.invitations.accept(issued.token, "ada@acme.test", ADA)
    with pytest.raises(InvitationUsed):
        services.invitations.accept(issued.token, "ada@acme.test", ADA)
    assert services.members.list(acme.id)[1] == 2


def assert_not_stored(db: Database, secret: str) -> None:
    """Read every row of every table the database has and look for ``secret`` (or its random part)."""
    body = secret.split("_", 1)[1]
    with db.engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                text = repr(tuple(row))
                assert secret not in text and body not in text, f"the invitation token is stored in {name}"


def test_the_link_token_is_stored_only_as_a_hash(services: Services, acme: Org, db: Database) -> None:
    issued = invite(services, acme)
    assert issued.token.startswith("inv_") and len(issued.token) > 40
    assert issued.invitation.token_hash == hash_token(issued.token)
    resent = services.invitations.resend(acme.id, issued.invitation.id, acme.by_admin)
    assert_not_stored(db, issued.token)
    assert_not_stored(db, resent.token)


def test_the_wired_app_stores_no_invitation_token_either(app_services: Services) -> None:
    """With every listener of the real app attached (e.g. the outbox that queues the invitation email)."""
    acme = make_org(app_services, "Acme", m.MembershipMode.INVITATION, domain="acme.test")
    issued = invite(app_services, acme)
    assert_not_stored(app_services.db, issued.token)


def test_an_invitation_expires_7_days_after_it_was_sent(services: Services, acme: Org, clock: Clock) -> None:
    early, late = invite(services, acme, "early@acme.test"), invite(services, acme, "late@acme.test")
    clock.advance(days=7, microseconds=-1)
    services.invitations.accept(early.token, "early@acme.test", CLI)
    clock.advance(microseconds=1)
    with pytest.raises(InvitationExpired, match="7 days"):
        services.invitations.accept(late.token, "late@acme.test", CLI)
    assert services.members.list(acme.id, query="late")[1] == 0


def test_a_revoked_invitation_cannot_be_accepted(services: Services, acme: Org, clock: Clock) -> None:
    issued = invite(services, acme)
    clock.advance(hours=2)
    revoked = services.invitations.revoke(acme.id, issued.invitation.id, acme.by_admin)
    assert (revoked.status, revoked.revoked_at) == (m.InvitationStatus.REVOKED, clock.now)
    with pytest.raises(InvitationRevoked):
        services.invitations.accept(issued.token, "ada@acme.test", ADA)
    with pytest.raises(InvitationInvalid, match="revoked, not pending"):
        services.invitations.revoke(acme.id, issued.invitation.id, acme.by_admin)


def test_a_resend_kills_the_old_link_and_restarts_the_7_days(
    services: Services, acme: Org, clock: Clock
) -> None:
    first = invite(services, acme)
    clock.advance(days=6)
    second = services.invitations.resend(acme.id, first.invitation.id, acme.by_admin)

    assert second.token != first.token
    assert second.invitation.id == first.invitation.id
    assert second.invitation.expires_at == clock.now + timedelta(days=7)
    assert second.invitation.send_count == 2
    with pytest.raises(InvitationInvalid, match="not valid"):
        services.invitations.accept(first.token, "ada@acme.test", ADA)
    with pytest.raises(InvitationInvalid):
        services.invitations.peek(first.token)

    clock.advance(days=6)  # 12 days after the first link: only the resent one lives
    member = services.invitations.accept(second.token, "ada@acme.test", ADA)
    assert member.email == "ada@acme.test"


def test_only_pending_invitations_can_be_resent(services: Services, acme: Org) -> None:
    issued = invite(services, acme)
    services.invitations.accept(issued.token, "ada@acme.test", ADA)
    with pytest.raises(InvitationInvalid, match="accepted, not pending"):
        services.invitations.resend(acme.id, issued.invitation.id, acme.by_admin)


def test_a_sign_in_with_another_verified_email_is_refused(services: Services, acme: Org) -> None:
    issued = invite(services, acme)
    with pytest.raises(InvitationEmailMismatch, match="different email"):
        services.invitations.accept(issued.token, "mallory@acme.test", CLI)
    assert services.invitations.get(acme.id, issued.invitation.id).status is m.InvitationStatus.PENDING
    assert services.members.list(acme.id)[1] == 1


def test_emails_are_compared_normalized(services: Services, acme: Org) -> None:
    issued = invite(services, acme, "  Ada.Lovelace@ACME.test ")
    assert issued.invitation.email == "ada.lovelace@acme.test"
    member = services.invitations.accept(issued.token, "ADA.LOVELACE@acme.TEST\n", CLI)
    assert member.email == "ada.lovelace@acme.test"


def test_a_malformed_email_is_refused_at_create(services: Services, acme: Org) -> None:
    with pytest.raises(InvalidInput):
        invite(services, acme, "ada at acme")


def test_an_unknown_link_is_refused(services: Services, acme: Org) -> None:
    with pytest.raises(InvitationInvalid, match="not valid"):
        services.invitations.accept("inv_forged", "ada@acme.test", CLI)
    with pytest.raises(InvitationInvalid):
        services.invitations.accept("", "ada@acme.test", CLI)


def test_one_pending_invitation_per_email_and_none_for_members(services: Services, acme: Org) -> None:
    invite(services, acme)
    with pytest.raises(EmailTaken, match="resend it instead"):
        invite(services, acme, "ADA@acme.test")
    with pytest.raises(EmailTaken, match="already a member"):
        invite(services, acme, "admin@acme.test")


def test_a_removed_member_can_be_invited_back(services: Services, acme: Org) -> None:
    member = invite_and_accept(services, acme, "ada@acme.test")
    services.members.remove(acme.id, member.id, acme.by_admin)
    again = services.invitations.accept(invite(services, acme).token, "ada@acme.test", ADA)
    assert again.id == member.id
    assert again.status is m.MemberStatus.ACTIVE


def test_an_account_of_another_organization_cannot_be_invited(services: Services, acme: Org) -> None:
    """An address in a domain nobody proved (freelance.test): the rule "one account, one organization"."""
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    invite_and_accept(services, globex, "ada@freelance.test")
    with pytest.raises(AccountInOtherOrganization, match="must be migrated"):
        invite(services, acme, "ada@freelance.test")
    assert services.invitations.list(acme.id)[1] == 0


def test_an_address_in_another_organizations_verified_domain_cannot_be_invited(
    services: Services, acme: Org
) -> None:
    """Rule 11: the refusal is the same whether or not the address has an account in the owning org."""
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    with pytest.raises(AddressDomainOwned) as missing:
        invite(services, globex, "nobody@acme.test")
    with pytest.raises(AddressDomainOwned) as existing:
        invite(services, globex, "admin@acme.test")
    assert missing.value.message == existing.value.message
    assert services.invitations.list(globex.id)[1] == 0


def test_an_account_created_elsewhere_after_the_invitation_cannot_accept_it(
    services: Services, acme: Org
) -> None:
    issued = invite(services, acme, "ada@freelance.test")
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    invite_and_accept(services, globex, "ada@freelance.test")

    with pytest.raises(AccountInOtherOrganization, match="must be migrated"):
        services.invitations.accept(issued.token, "ada@freelance.test", ADA)

    assert services.invitations.get(acme.id, issued.invitation.id).status is m.InvitationStatus.PENDING
    assert services.members.list(acme.id, query="ada")[1] == 0


def test_a_removed_account_elsewhere_does_not_count(services: Services, acme: Org) -> None:
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    old = invite_and_accept(services, globex, "ada@freelance.test")
    services.members.remove(globex.id, old.id, globex.by_admin)
    member = services.invitations.accept(
        invite(services, acme, "ada@freelance.test").token, "ada@freelance.test", ADA
    )
    assert member.org_id == acme.id


def test_invitations_of_one_organization_are_invisible_to_another(services: Services, acme: Org) -> None:
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    issued = invite(services, acme)
    with pytest.raises(NotFound, match="No such invitation"):
        services.invitations.revoke(globex.id, issued.invitation.id, globex.by_admin)
    with pytest.raises(NotFound, match="No such invitation"):
        services.invitations.resend(globex.id, issued.invitation.id, globex.by_admin)
    assert services.invitations.list(globex.id)[1] == 0


def test_an_expired_invitation_can_be_resent_and_then_accepted(
    services: Services, acme: Org, clock: Clock
) -> None:
    issued = invite(services, acme)
    clock.advance(days=10)
    with pytest.raises(InvitationExpired):
        services.invitations.accept(issued.token, "ada@acme.test", ADA)
    fresh = services.invitations.resend(acme.id, issued.invitation.id, acme.by_admin)
    assert services.invitations.accept(fresh.token, "ada@acme.test", ADA).email == "ada@acme.test"


def test_an_invitation_for_someone_who_became_a_member_meanwhile_is_refused(
    services: Services, acme: Org
) -> None:
    issued = invite(services, acme)
    services.members.add_admin(acme.id, "ada@acme.test", CLI)
    with pytest.raises(EmailTaken):
        services.invitations.accept(issued.token, "ada@acme.test", ADA)
    assert services.invitations.get(acme.id, issued.invitation.id).status is m.InvitationStatus.PENDING
