"""Rule 6: who just-in-time SSO sign-in brings back after a removal, and who it must not."""

from __future__ import annotations

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Deprovisioned, EmailBlocked, MemberInactive
from gateway.services import Services
from gateway.services.members import Profile

from .conftest import IDP, Clock, Org, project_ids


def signed_up(services: Services, org: Org, email: str = "ada@globex.test") -> m.Member:
    return services.members.sso_sign_in(org.id, email, IDP).member


def refusals(services: Services, org: Org) -> list[str]:
    events, _ = services.audit.list(org.id, action="sign_in.refused")
    return [e.details["reason"] for e in events]


def test_a_member_removed_by_an_admin_comes_back_at_the_next_sso_sign_in(
    services: Services, globex: Org, clock: Clock
) -> None:
    member = signed_up(services, globex)
    services.members.remove(globex.id, member.id, globex.by_admin)
    clock.advance(days=1)

    result = services.members.sso_sign_in(globex.id, "ada@globex.test", IDP)

    assert result.outcome.value == "restore"
    assert result.member.id == member.id
    assert result.member.status is m.MemberStatus.ACTIVE
    assert (result.member.removed_at, result.member.removed_by) == (None, None)
    assert project_ids(services, globex, result.member) == [globex.project.id]
    joined, _ = services.audit.list(globex.id, action="member.joined", target_id=member.id)
    assert joined[0].details["restored"] is True


def test_a_blocked_email_is_not_brought_back(services: Services, globex: Org) -> None:
    member = signed_up(services, globex)
    result = services.members.remove(globex.id, member.id, globex.by_admin, block=True)
    assert result.blocked

    with pytest.raises(EmailBlocked):
        services.members.sso_sign_in(globex.id, "ADA@globex.test", IDP)

    assert services.members.get(globex.id, member.id).member.status is m.MemberStatus.REMOVED
    assert refusals(services, globex) == ["email_blocked"]


def test_unblocking_lets_the_member_come_back(services: Services, globex: Org) -> None:
    member = signed_up(services, globex)
    services.members.remove(globex.id, member.id, globex.by_admin, block=True)
    services.members.unblock_email(globex.id, "ada@globex.test", globex.by_admin)
    assert services.members.sso_sign_in(globex.id, "ada@globex.test", IDP).member.id == member.id


def test_a_blocked_newcomer_is_not_created(services: Services, globex: Org) -> None:
    services.members.block_email(globex.id, "Eve@Globex.test", globex.by_admin)
    with pytest.raises(EmailBlocked):
        services.members.sso_sign_in(globex.id, "eve@globex.test", IDP)
    assert services.members.list(globex.id)[1] == 1
    assert [b.email for b in services.members.blocked_emails(globex.id)] == ["eve@globex.test"]


def test_a_member_deprovisioned_over_scim_is_not_recreated_by_jit(services: Services, globex: Org) -> None:
    member = services.members.provision(globex.id, "ada@globex.test", m.Role.MEMBER, IDP, Profile())
    services.members.remove(globex.id, member.id, IDP, source=m.RemovalSource.SCIM)

    with pytest.raises(Deprovisioned, match="identity provider removed"):
        services.members.sso_sign_in(globex.id, "ada@globex.test", IDP)

    assert services.members.get(globex.id, member.id).member.status is m.MemberStatus.REMOVED
    assert refusals(services, globex) == ["deprovisioned"]


def test_the_idp_can_provision_a_deprovisioned_member_again(services: Services, globex: Org) -> None:
    member = services.members.provision(globex.id, "ada@globex.test", m.Role.MEMBER, IDP, Profile())
    services.members.remove(globex.id, member.id, IDP, source=m.RemovalSource.SCIM)
    again = services.members.provision(globex.id, "ada@globex.test", m.Role.MEMBER, IDP, Profile())
    assert again.id == member.id and again.status is m.MemberStatus.ACTIVE
    assert services.members.sso_sign_in(globex.id, "ada@globex.test", IDP).outcome.value == "sign_in"


def test_a_suspended_member_cannot_sign_in(services: Services, globex: Org) -> None:
    member = signed_up(services, globex)
    services.members.suspend(globex.id, member.id, globex.by_admin)
    with pytest.raises(MemberInactive):
        services.members.sso_sign_in(globex.id, "ada@globex.test", IDP)
    assert services.members.get(globex.id, member.id).member.status is m.MemberStatus.SUSPENDED
    assert refusals(services, globex) == ["member_inactive"]


def test_a_blocked_email_is_not_provisioned_over_scim(services: Services, globex: Org) -> None:
    services.members.block_email(globex.id, "eve@globex.test", globex.by_admin)
    with pytest.raises(EmailBlocked):
        services.members.provision(globex.id, "Eve@globex.test", m.Role.MEMBER, IDP, Profile())
    assert services.members.list(globex.id)[1] == 1
