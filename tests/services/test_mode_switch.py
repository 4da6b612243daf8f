"""Rule 2: switching the membership mode, previewed by a dry run, then applied and audited."""

from __future__ import annotations

import pytest

from gateway.domain import model as m
from gateway.domain.errors import ModeSwitchRefused
from gateway.services import Services

from .conftest import CLI, Clock, Org, invite_and_accept

SSO, INVITATION = m.MembershipMode.SSO, m.MembershipMode.INVITATION


def snapshot(services: Services, org: Org) -> tuple:
    view = services.orgs.get(org.id)
    invitations, _ = services.invitations.list(org.id)
    return (
        view.org.mode,
        view.member_count,
        sorted((i.id, i.status, i.revoked_at) for i in invitations),
        sorted((t.id, t.suspended, t.revoked_at) for t in services.credentials.scim_tokens(org.id)),
        sorted((c.id, c.enabled, c.suspended) for c in services.connections.list(org.id)),
        services.audit.list(org.id)[1],
    )


def test_the_dry_run_lists_effects_and_changes_nothing(services: Services, acme: Org) -> None:
    services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    before = snapshot(services, acme)

    plan = services.mode.preview(acme.id, SSO)

    assert plan.allowed
    assert len(plan.invitations_to_revoke) == 1
    assert "1 pending invitation(s) will be revoked." in plan.effects
    assert snapshot(services, acme) == before


def test_the_dry_run_of_a_refused_switch_gives_the_reason_and_changes_nothing(
    services: Services, acme: Org
) -> None:
    before = snapshot(services, acme)
    plan = services.mode.preview(acme.id, SSO)
    assert not plan.allowed
    assert "no enabled SSO connection" in (plan.refusal or "")
    assert snapshot(services, acme) == before


def test_switching_to_sso_is_refused_without_an_enabled_connection(services: Services, acme: Org) -> None:
    issued = services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    connection = services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    services.connections.set_enabled(acme.id, connection.id, False, acme.by_admin)
    before = snapshot(services, acme)

    with pytest.raises(ModeSwitchRefused, match="no enabled SSO connection") as error:
        services.mode.apply(acme.id, SSO, acme.by_admin)

    assert error.value.details == {"from_mode": "invitation", "to_mode": "sso"}
    assert snapshot(services, acme) == before
    assert services.invitations.get(acme.id, issued.invitation.id).status is m.InvitationStatus.PENDING


def test_switching_to_sso_revokes_pending_invitations_and_keeps_members(
    services: Services, acme: Org, clock: Clock
) -> None:
    member = invite_and_accept(services, acme, "bob@acme.test")
    pending = [
        services.invitations.create(acme.id, email, m.Role.MEMBER, acme.by_admin).invitation
        for email in ("ada@acme.test", "cy@acme.test")
    ]
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    clock.advance(hours=1)

    plan = services.mode.apply(acme.id, SSO, acme.by_admin)

    assert sorted(plan.invitations_to_revoke) == sorted(i.id for i in pending)
    assert plan.members_kept == 2
    for invitation in pending:
        stored = services.invitations.get(acme.id, invitation.id)
        assert stored.status is m.InvitationStatus.REVOKED
        assert stored.revoked_at == clock.now
    assert services.orgs.get(acme.id).org.mode is SSO
    kept = services.members.get(acme.id, member.id).member
    assert kept.status is m.MemberStatus.ACTIVE
    assert services.members.list(acme.id)[1] == 2


def test_switching_to_invitation_suspends_tokens_and_connections_and_switching_back_restores_them(
    services: Services, globex: Org
) -> None:
    extra = services.connections.add(globex.id, m.ConnectionProtocol.OIDC, "Entra", CLI)
    services.connections.set_enabled(globex.id, extra.id, False, globex.by_admin)
    issued = services.credentials.create_scim_token(globex.id, globex.by_admin)
    revoked = services.credentials.create_scim_token(globex.id, globex.by_admin, name="old")
    services.credentials.revoke_scim_token(globex.id, revoked.scim_token.id, globex.by_admin)
    member = services.members.sso_sign_in(globex.id, "ada@globex.test", CLI).member
    before = snapshot(services, globex)

    plan = services.mode.apply(globex.id, INVITATION, globex.by_admin)

    assert plan.scim_tokens_to_suspend == [issued.scim_token.id]
    assert all(c.suspended for c in services.connections.list(globex.id))
    org, token = services.credentials.authenticate_scim_token(issued.token)
    assert org.mode is INVITATION
    assert token.suspended and not token.is_usable
    assert services.members.get(globex.id, member.id).member.status is m.MemberStatus.ACTIVE
    assert services.members.list(globex.id)[1] == 2

    services.mode.apply(globex.id, SSO, globex.by_admin)

    after = snapshot(services, globex)
    assert after[:5] == before[:5]  # mode, members, invitations, tokens and connections exactly as they were
    assert services.credentials.authenticate_scim_token(issued.token)[1].is_usable
    by_id = {c.id: c for c in services.connections.list(globex.id)}
    assert not by_id[extra.id].enabled  # the Admin's own choice survives the round trip


def test_a_connection_added_in_invitation_mode_starts_suspended_and_counts_for_the_switch(
    services: Services, acme: Org
) -> None:
    connection = services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    token = services.credentials.create_scim_token(acme.id, acme.by_admin)
    assert connection.suspended and token.scim_token.suspended

    plan = services.mode.apply(acme.id, SSO, acme.by_admin)

    assert plan.connections_to_restore == [connection.id]
    assert plan.scim_tokens_to_restore == [token.scim_token.id]
    assert all(c.is_usable for c in services.connections.list(acme.id))


def test_the_switch_is_audited_with_its_effects(services: Services, acme: Org, clock: Clock) -> None:
    invitation = services.invitations.create(
        acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin
    ).invitation
    connection = services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    clock.advance(minutes=5)

    services.mode.apply(acme.id, SSO, acme.by_admin)

    events, _ = services.audit.list(acme.id, action="mode.switched")
    assert len(events) == 1
    event = events[0]
    assert (event.actor_type, event.actor_id, event.ip) == (m.ActorType.ADMIN, acme.admin.id, "203.0.113.7")
    assert (event.target_type, event.target_id, event.at) == ("organization", acme.id, clock.now)
    assert event.details["from"] == "invitation" and event.details["to"] == "sso"
    assert event.details["invitations_revoked"] == [invitation.id]
    assert event.details["connections_restored"] == [connection.id]
    assert event.details["members_kept"] == 1


def test_switching_to_the_current_mode_is_a_no_op(services: Services, globex: Org) -> None:
    before = snapshot(services, globex)
    plan = services.mode.apply(globex.id, SSO, globex.by_admin)
    assert plan.effects == ["Nothing changes: the organization is already in this mode."]
    assert snapshot(services, globex) == before
