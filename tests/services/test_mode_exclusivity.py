"""Rule 1: an organization is in SSO mode or invitation mode, never both, and the services enforce it."""

from __future__ import annotations

import pytest

from gateway.domain import model as m
from gateway.domain.errors import InvitationRevoked, ModeForbids
from gateway.services import Services
from gateway.services.members import Profile

from .conftest import CLI, IDP, Org, make_org


def test_invitations_cannot_be_created_in_sso_mode(services: Services, globex: Org) -> None:
    with pytest.raises(ModeForbids, match="SSO mode"):
        services.invitations.create(globex.id, "new@globex.test", m.Role.MEMBER, globex.by_admin)
    assert services.invitations.list(globex.id)[1] == 0


def test_a_link_sent_before_the_switch_cannot_be_resent_or_accepted_after_it(
    services: Services, acme: Org
) -> None:
    issued = services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    services.connections.add(acme.id, m.ConnectionProtocol.OIDC, "Google", CLI)
    services.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin)

    with pytest.raises(ModeForbids):
        services.invitations.accept(issued.token, "ada@acme.test", CLI)
    with pytest.raises(ModeForbids):
        services.invitations.resend(acme.id, issued.invitation.id, acme.by_admin)
    assert services.members.list(acme.id)[1] == 1  # only the Admin
    assert services.invitations.get(acme.id, issued.invitation.id).status is m.InvitationStatus.REVOKED


def test_a_link_revoked_by_the_switch_stays_dead_after_switching_back(services: Services, acme: Org) -> None:
    issued = services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    services.connections.add(acme.id, m.ConnectionProtocol.OIDC, "Google", CLI)
    services.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin)
    services.mode.apply(acme.id, m.MembershipMode.INVITATION, acme.by_admin)
    with pytest.raises(InvitationRevoked):
        services.invitations.accept(issued.token, "ada@acme.test", CLI)


def test_scim_provisioning_is_refused_in_invitation_mode(services: Services, acme: Org) -> None:
    with pytest.raises(ModeForbids, match="SCIM provisioning is disabled"):
        services.members.provision(acme.id, "ada@acme.test", m.Role.MEMBER, IDP, Profile(display_name="Ada"))
    assert services.members.list(acme.id)[1] == 1
    assert services.audit.list(acme.id, actor_type=m.ActorType.SCIM_TOKEN)[1] == 0


@pytest.mark.parametrize("email", ["admin@acme.test", "newcomer@acme.test"])
def test_sso_sign_in_is_refused_in_invitation_mode_and_the_refusal_is_audited(
    services: Services, acme: Org, email: str
) -> None:
    with pytest.raises(ModeForbids, match="invitation mode"):
        services.members.sso_sign_in(acme.id, email, IDP)
    assert services.members.list(acme.id)[1] == 1
    events, _ = services.audit.list(acme.id, action="sign_in.refused")
    assert [(e.details["email"], e.details["reason"]) for e in events] == [(email, "mode_forbids")]


def test_the_admin_path_works_in_both_modes(services: Services) -> None:
    for mode, domain in [(m.MembershipMode.SSO, "a.test"), (m.MembershipMode.INVITATION, "b.test")]:
        org = make_org(services, domain, mode, domain=domain)
        assert org.admin.is_admin
        assert org.admin.joined_via is m.JoinPath.ADMIN
