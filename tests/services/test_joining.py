"""Rule 4: every way of joining lands in the Default Project; and the first SCIM push or SSO sign-in of an
existing member links them by email instead of creating a duplicate (rule 2)."""

from __future__ import annotations

import pytest

from gateway.domain import model as m
from gateway.domain.errors import AccountInOtherOrganization, AddressDomainOwned, EmailTaken, ModeForbids
from gateway.services import Services
from gateway.services.members import Profile

from .conftest import CLI, IDP, Org, actions, invite_and_accept, make_org, project_ids


def test_an_accepted_invitation_joins_the_default_project(services: Services, acme: Org) -> None:
    member = invite_and_accept(services, acme, "ada@acme.test")
    assert project_ids(services, acme, member) == [acme.project.id]


def test_a_scim_create_joins_the_default_project(services: Services, globex: Org) -> None:
    member = services.members.provision(
        globex.id, "ada@globex.test", m.Role.MEMBER, IDP, Profile(display_name="Ada L.", external_id="00u1")
    )
    assert (member.joined_via, member.scim_linked, member.display_name, member.external_id) == (
        m.JoinPath.SCIM, True, "Ada L.", "00u1",
    )  # fmt: skip
    assert project_ids(services, globex, member) == [globex.project.id]


def test_a_just_in_time_sign_in_joins_the_default_project(services: Services, globex: Org) -> None:
    result = services.members.sso_sign_in(globex.id, "Ada@Globex.test", IDP, role=m.Role.MEMBER)
    assert result.member.email == "ada@globex.test"
    assert result.member.joined_via is m.JoinPath.JIT
    assert project_ids(services, globex, result.member) == [globex.project.id]


def test_an_admin_added_by_the_cli_joins_the_default_project(services: Services, acme: Org) -> None:
    assert project_ids(services, acme, acme.admin) == [acme.project.id]


def test_a_member_brought_back_rejoins_only_the_default_project(services: Services, globex: Org) -> None:
    services.orgs.set_multi_project(globex.id, True, globex.by_admin)
    research = services.projects.create(globex.id, "Research", globex.by_admin)
    member = services.members.sso_sign_in(globex.id, "ada@globex.test", IDP).member
    services.projects.add_member(globex.id, research.id, member.id, globex.by_admin)
    services.members.remove(globex.id, member.id, globex.by_admin)

    back = services.members.sso_sign_in(globex.id, "ada@globex.test", IDP).member

    assert back.id == member.id
    assert project_ids(services, globex, back) == [globex.project.id]


def test_the_first_scim_push_links_an_existing_member_by_email(services: Services, acme: Org) -> None:
    member = invite_and_accept(services, acme, "ada@acme.test")
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    services.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin)

    linked = services.members.provision(
        acme.id, "ADA@acme.test", m.Role.ADMIN, IDP, Profile(given_name="Ada", external_id="00u9")
    )

    assert linked.id == member.id
    assert (linked.scim_linked, linked.given_name, linked.external_id) == (True, "Ada", "00u9")
    assert linked.role is m.Role.MEMBER  # linking does not change the role
    assert linked.joined_via is m.JoinPath.INVITATION
    assert services.members.list(acme.id)[1] == 2
    assert project_ids(services, acme, linked) == [acme.project.id]
    assert "member.linked" in actions(services, acme, target_id=member.id)
    with pytest.raises(EmailTaken, match="already provisioned"):
        services.members.provision(acme.id, "ada@acme.test", m.Role.MEMBER, IDP, Profile())


def test_the_first_sso_sign_in_of_an_existing_member_signs_them_in(services: Services, acme: Org) -> None:
    member = invite_and_accept(services, acme, "ada@acme.test")
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    services.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin)

    result = services.members.sso_sign_in(acme.id, "ada@acme.test", IDP)

    assert result.outcome.value == "sign_in"
    assert result.member.id == member.id
    assert services.members.list(acme.id)[1] == 2


def test_a_jit_newcomer_needs_a_verified_domain_of_the_organization(services: Services, globex: Org) -> None:
    with pytest.raises(ModeForbids, match="not verified"):
        services.members.sso_sign_in(globex.id, "ada@gmail.test", IDP)
    services.orgs.add_domain(globex.id, "gmail.test", globex.by_admin, verified=False)  # claimed, not proven
    with pytest.raises(ModeForbids, match="not verified"):
        services.members.sso_sign_in(globex.id, "ada@gmail.test", IDP)
    assert services.members.list(globex.id)[1] == 1


def test_scim_can_create_a_member_outside_the_verified_domains(services: Services, globex: Org) -> None:
    member = services.members.provision(globex.id, "contractor@elsewhere.test", m.Role.MEMBER, IDP, Profile())
    assert project_ids(services, globex, member) == [globex.project.id]


def test_no_path_joins_an_email_that_lives_in_another_organization(services: Services, globex: Org) -> None:
    """An address in a domain nobody proved: "one account, one organization" says the account must move."""
    initech = make_org(services, "Initech", m.MembershipMode.SSO, domain="initech.test")
    services.members.provision(initech.id, "ada@freelance.test", m.Role.MEMBER, IDP, Profile())
    services.orgs.add_domain(globex.id, "globex-labs.test", CLI)

    with pytest.raises(AccountInOtherOrganization, match="must be migrated"):
        services.members.provision(globex.id, "ada@freelance.test", m.Role.MEMBER, IDP, Profile())
    with pytest.raises(AccountInOtherOrganization, match="must be migrated"):
        services.members.add_admin(globex.id, "ada@freelance.test", CLI)
    assert services.members.list(globex.id)[1] == 1


def test_no_path_joins_an_address_in_another_organizations_verified_domain(
    services: Services, globex: Org
) -> None:
    """Rule 11, and the answer does not tell whether the address has an account in the owning org."""
    initech = make_org(services, "Initech", m.MembershipMode.SSO, domain="initech.test")
    services.members.sso_sign_in(initech.id, "ada@initech.test", IDP)

    for email in ("ada@initech.test", "nobody@initech.test"):
        with pytest.raises(AddressDomainOwned, match="another organization has verified"):
            services.members.provision(globex.id, email, m.Role.MEMBER, IDP, Profile())
        with pytest.raises(AddressDomainOwned, match="another organization has verified"):
            services.members.add_admin(globex.id, email, CLI)
        with pytest.raises(AddressDomainOwned, match="another organization has verified"):
            services.members.sso_sign_in(globex.id, email, IDP)
    assert services.members.list(globex.id)[1] == 1
    refused, _ = services.audit.list(initech.id, action="sign_in.refused")
    assert refused == []
