"""Rule 5: removal revokes every project membership, ends sessions and revokes API keys at once, while the
resources the member created stay; suspension blocks the same access but keeps the member for restore."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, MemberInactive, Unauthenticated
from gateway.services import Services

from .conftest import Clock, Org, invite_and_accept, project_ids


@dataclass
class Busy:
    """A member with access everywhere: two projects, a session, a project API key and a resource."""

    member: m.Member
    research: m.Project
    session_token: str
    key_token: str
    key_id: str
    resource: m.Resource


@pytest.fixture
def busy(services: Services, acme: Org) -> Busy:
    member = invite_and_accept(services, acme, "ada@acme.test")
    services.orgs.set_multi_project(acme.id, True, acme.by_admin)
    research = services.projects.create(acme.id, "Research", acme.by_admin)
    services.projects.add_member(acme.id, research.id, member.id, acme.by_admin)
    _, session_token = services.sessions.start(acme.id, member.id, acme.by_admin)
    key = services.credentials.create_project_key(acme.id, research.id, member.id, acme.by_admin)
    resource = services.projects.create_resource(
        acme.id, research.id, m.ResourceKind.MODEL, "sentiment-v1", member.id, acme.by_admin
    )
    assert services.sessions.resolve(session_token) is not None
    assert services.credentials.authenticate_api_key(key.token).member.id == member.id  # type: ignore[union-attr]
    return Busy(member, research, session_token, key.token, key.key.id, resource)


def test_removal_revokes_projects_sessions_and_keys_at_once(
    services: Services, acme: Org, busy: Busy, clock: Clock
) -> None:
    clock.advance(hours=1)
    result = services.members.remove(acme.id, busy.member.id, acme.by_admin)

    assert (result.project_access_revoked, result.sessions_ended, result.api_keys_revoked, result.resources_kept) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert project_ids(services, acme, busy.member) == []
    assert not services.projects.is_member(acme.id, busy.research.id, busy.member.id)
    assert services.sessions.resolve(busy.session_token) is None
    with pytest.raises(Unauthenticated):
        services.credentials.authenticate_api_key(busy.key_token)
    assert services.credentials.get_api_key(acme.id, busy.key_id).revoked_at == clock.now
    stored = services.members.get(acme.id, busy.member.id).member
    assert (stored.status, stored.removed_by, stored.removed_at) == (
        m.MemberStatus.REMOVED, m.RemovalSource.ADMIN, clock.now,
    )  # fmt: skip


def test_resources_stay_in_their_project_showing_their_creator(
    services: Services, acme: Org, busy: Busy
) -> None:
    services.members.remove(acme.id, busy.member.id, acme.by_admin)
    resources, total = services.projects.resources(acme.id, busy.research.id)
    assert total == 1
    assert (resources[0].id, resources[0].created_by) == (busy.resource.id, busy.member.id)
    assert [r.id for r in services.members.get(acme.id, busy.member.id).resources_created] == [
        busy.resource.id
    ]


def test_removal_by_scim_is_recorded_as_such(services: Services, acme: Org, busy: Busy) -> None:
    services.members.remove(acme.id, busy.member.id, acme.by_admin, source=m.RemovalSource.SCIM)
    assert services.members.get(acme.id, busy.member.id).member.removed_by is m.RemovalSource.SCIM


def test_removal_leaves_organization_keys_and_other_members_alone(
    services: Services, acme: Org, busy: Busy
) -> None:
    admin_key = services.credentials.create_admin_key(acme.id, acme.by_admin)
    _, admin_session = services.sessions.start(acme.id, acme.admin.id, acme.by_admin)
    services.members.remove(acme.id, busy.member.id, acme.by_admin)
    assert services.credentials.authenticate_api_key(admin_key.token).member is None
    assert services.sessions.resolve(admin_session) is not None


def test_a_removed_member_cannot_be_removed_suspended_or_restored(
    services: Services, acme: Org, busy: Busy
) -> None:
    services.members.remove(acme.id, busy.member.id, acme.by_admin)
    with pytest.raises(MemberInactive, match="already removed"):
        services.members.remove(acme.id, busy.member.id, acme.by_admin)
    with pytest.raises(MemberInactive):
        services.members.suspend(acme.id, busy.member.id, acme.by_admin)
    with pytest.raises(MemberInactive):
        services.members.restore(acme.id, busy.member.id, acme.by_admin)


def test_removed_members_are_hidden_from_the_member_list(services: Services, acme: Org, busy: Busy) -> None:
    services.members.remove(acme.id, busy.member.id, acme.by_admin)
    assert [x.id for x in services.members.list(acme.id)[0]] == [acme.admin.id]
    removed, _ = services.members.list(acme.id, status=m.MemberStatus.REMOVED)
    assert [x.id for x in removed] == [busy.member.id]


def test_suspension_ends_sessions_and_blocks_keys_but_keeps_memberships(
    services: Services, acme: Org, busy: Busy
) -> None:
    result = services.members.suspend(acme.id, busy.member.id, acme.by_admin)

    assert (result.sessions_ended, result.api_keys_revoked, result.resources_kept) == (1, 0, 1)
    assert services.sessions.resolve(busy.session_token) is None
    with pytest.raises(Unauthenticated, match="no longer has access"):
        services.credentials.authenticate_api_key(busy.key_token)
    assert services.credentials.get_api_key(acme.id, busy.key_id).revoked_at is None
    assert sorted(project_ids(services, acme, busy.member)) == sorted([acme.project.id, busy.research.id])
    stored = services.members.get(acme.id, busy.member.id).member
    assert stored.status is m.MemberStatus.SUSPENDED and stored.suspended_at is not None


def test_restore_gives_back_keys_and_memberships_but_not_ended_sessions(
    services: Services, acme: Org, busy: Busy
) -> None:
    services.members.suspend(acme.id, busy.member.id, acme.by_admin)
    restored = services.members.restore(acme.id, busy.member.id, acme.by_admin)

    assert restored.status is m.MemberStatus.ACTIVE and restored.suspended_at is None
    assert services.credentials.authenticate_api_key(busy.key_token).member.id == busy.member.id  # type: ignore[union-attr]
    assert sorted(project_ids(services, acme, busy.member)) == sorted([acme.project.id, busy.research.id])
    assert services.sessions.resolve(busy.session_token) is None
    _, fresh = services.sessions.start(acme.id, busy.member.id, acme.by_admin)
    assert services.sessions.resolve(fresh).member.id == busy.member.id  # type: ignore[union-attr]


def test_a_suspended_member_gets_no_new_keys_resources_or_projects(
    services: Services, acme: Org, busy: Busy
) -> None:
    services.members.suspend(acme.id, busy.member.id, acme.by_admin)
    with pytest.raises(Forbidden):
        services.credentials.create_project_key(acme.id, busy.research.id, busy.member.id, acme.by_admin)
    with pytest.raises(Forbidden):
        services.projects.create_resource(
            acme.id, busy.research.id, m.ResourceKind.FILE, "x", busy.member.id, acme.by_admin
        )
    with pytest.raises(MemberInactive):
        services.projects.add_member(acme.id, acme.project.id, busy.member.id, acme.by_admin)


def test_suspend_and_restore_are_idempotent(services: Services, acme: Org, busy: Busy) -> None:
    services.members.suspend(acme.id, busy.member.id, acme.by_admin)
    again = services.members.suspend(acme.id, busy.member.id, acme.by_admin)
    assert again.sessions_ended == 0
    services.members.restore(acme.id, busy.member.id, acme.by_admin)
    assert services.members.restore(acme.id, busy.member.id, acme.by_admin).status is m.MemberStatus.ACTIVE
    events, _ = services.audit.list(acme.id, target_id=busy.member.id, action="member.suspended")
    assert len(events) == 1
