"""Rule 7 at SSO sign-in: when a connection maps IdP groups to roles the IdP is authoritative, except that it
never takes away the organization's last Admin; without a mapping the member keeps the role they have."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.services import Services
from tests.services.conftest import Org

SAML = m.Actor(m.ActorType.MEMBER, id="conn-1", label="saml connection globex-okta")


def _actions(services: Services, org: Org, member: m.Member) -> list[str]:
    return [e.action for e in services.audit.list(org.id, target_id=member.id)[0]]


def test_just_in_time_member_gets_the_mapped_role(services: Services, globex: Org) -> None:
    result = services.members.sso_sign_in(globex.id, "ada@globex.test", SAML, role=m.Role.ADMIN)
    assert result.member.role is m.Role.ADMIN


def test_without_a_mapping_a_new_member_joins_as_member(services: Services, globex: Org) -> None:
    result = services.members.sso_sign_in(globex.id, "ada@globex.test", SAML)
    assert result.member.role is m.Role.MEMBER


def test_without_a_mapping_an_existing_admin_keeps_the_role(services: Services, globex: Org) -> None:
    result = services.members.sso_sign_in(globex.id, globex.admin.email, SAML)
    assert result.member.role is m.Role.ADMIN


def test_a_mapped_role_promotes_and_demotes_existing_members(services: Services, globex: Org) -> None:
    ada = services.members.sso_sign_in(globex.id, "ada@globex.test", SAML).member
    promoted = services.members.sso_sign_in(globex.id, "ada@globex.test", SAML, role=m.Role.ADMIN).member
    assert promoted.role is m.Role.ADMIN
    demoted = services.members.sso_sign_in(globex.id, "ada@globex.test", SAML, role=m.Role.MEMBER).member
    assert demoted.role is m.Role.MEMBER
    changes = [
        e for e in services.audit.list(globex.id, action="member.role_changed")[0] if e.target_id == ada.id
    ]
    assert [(e.details["from"], e.details["to"], e.details["via"]) for e in reversed(changes)] == [
        ("member", "admin", "idp_groups"),
        ("admin", "member", "idp_groups"),
    ]


def test_the_idp_mapping_never_demotes_the_last_admin(services: Services, globex: Org) -> None:
    result = services.members.sso_sign_in(globex.id, globex.admin.email, SAML, role=m.Role.MEMBER)
    assert result.member.role is m.Role.ADMIN
    assert services.members.list(globex.id, role=m.Role.ADMIN)[1] == 1
    assert "member.role_sync_skipped" in _actions(services, globex, globex.admin)
