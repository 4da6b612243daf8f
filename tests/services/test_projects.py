"""Rule 8: projects are isolated, and more than the Default Project is an opt-in flag per organization."""

from __future__ import annotations

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Conflict, FeatureDisabled, Forbidden, NotFound, Unauthenticated
from gateway.services import Services
from gateway.storage.db import Database

from .conftest import Clock, Org, actions, invite_and_accept, make_org


def test_every_organization_starts_with_exactly_its_default_project(services: Services, acme: Org) -> None:
    projects = services.projects.list(acme.id)
    assert [(p.name, p.is_default) for p in projects] == [("Default Project", True)]
    assert services.orgs.get(acme.id).org.multi_project is False


def test_more_projects_need_the_feature_flag(services: Services, acme: Org) -> None:
    with pytest.raises(FeatureDisabled, match="early-access"):
        services.projects.create(acme.id, "Research", acme.by_admin)
    assert len(services.projects.list(acme.id)) == 1

    services.orgs.set_multi_project(acme.id, True, acme.by_admin)
    research = services.projects.create(acme.id, "Research", acme.by_admin)

    assert [p.name for p in services.projects.list(acme.id)] == ["Default Project", "Research"]
    assert "org.multi_project_changed" in actions(services, acme)
    with pytest.raises(Conflict, match="already exists"):
        services.projects.create(acme.id, "Research", acme.by_admin)

    services.orgs.set_multi_project(acme.id, False, acme.by_admin)
    bob = invite_and_accept(services, acme, "bob@acme.test")
    with pytest.raises(FeatureDisabled):
        services.projects.add_member(acme.id, research.id, bob.id, acme.by_admin)


def test_nobody_leaves_the_default_project_except_by_removal(services: Services, acme: Org) -> None:
    bob = invite_and_accept(services, acme, "bob@acme.test")
    with pytest.raises(Conflict, match="Default Project"):
        services.projects.remove_member(acme.id, acme.project.id, bob.id, acme.by_admin)


def test_resources_and_keys_are_scoped_to_one_project(services: Services, acme: Org) -> None:
    services.orgs.set_multi_project(acme.id, True, acme.by_admin)
    research = services.projects.create(acme.id, "Research", acme.by_admin)
    bob = invite_and_accept(services, acme, "bob@acme.test")

    with pytest.raises(Forbidden):
        services.projects.create_resource(
            acme.id, research.id, m.ResourceKind.MODEL, "m", bob.id, acme.by_admin
        )
    with pytest.raises(Forbidden):
        services.credentials.create_project_key(acme.id, research.id, bob.id, acme.by_admin)

    services.projects.create_resource(
        acme.id, acme.project.id, m.ResourceKind.MODEL, "m", bob.id, acme.by_admin
    )
    key = services.credentials.create_project_key(acme.id, acme.project.id, bob.id, acme.by_admin)
    assert services.projects.resources(acme.id, research.id)[1] == 0
    assert services.projects.resources(acme.id, acme.project.id)[1] == 1
    assert services.credentials.authenticate_api_key(key.token).key.project_id == acme.project.id

    services.projects.add_member(acme.id, research.id, bob.id, acme.by_admin)
    services.projects.remove_member(acme.id, research.id, bob.id, acme.by_admin)
    assert not services.projects.is_member(acme.id, research.id, bob.id)
    assert actions(services, acme, target_id=bob.id)[-2:] == [
        "project.member_added",
        "project.member_removed",
    ]


def test_projects_and_members_of_another_organization_are_not_found(services: Services, acme: Org) -> None:
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    with pytest.raises(NotFound):
        services.projects.get(globex.id, acme.project.id)
    with pytest.raises(NotFound):
        services.projects.add_member(globex.id, globex.project.id, acme.admin.id, globex.by_admin)
    with pytest.raises(NotFound):
        services.members.remove(globex.id, acme.admin.id, globex.by_admin)
    with pytest.raises(NotFound):
        services.credentials.create_project_key(acme.id, globex.project.id, acme.admin.id, acme.by_admin)


def test_leaving_a_project_ends_the_project_keys_at_once(services: Services, acme: Org, clock: Clock) -> None:
    services.orgs.set_multi_project(acme.id, True, acme.by_admin)
    research = services.projects.create(acme.id, "Research", acme.by_admin)
    bob = invite_and_accept(services, acme, "bob@acme.test")
    services.projects.add_member(acme.id, research.id, bob.id, acme.by_admin)
    research_key = services.credentials.create_project_key(acme.id, research.id, bob.id, acme.by_admin)
    default_key = services.credentials.create_project_key(acme.id, acme.project.id, bob.id, acme.by_admin)
    clock.advance(minutes=3)

    services.projects.remove_member(acme.id, research.id, bob.id, acme.by_admin)

    with pytest.raises(Unauthenticated):
        services.credentials.authenticate_api_key(research_key.token)
    assert services.credentials.get_api_key(acme.id, research_key.key.id).revoked_at == clock.now
    assert services.credentials.authenticate_api_key(default_key.token).key.project_id == acme.project.id
    event = services.audit.list(acme.id, action="project.member_removed")[0][0]
    assert event.details["api_keys_revoked"] == 1


def test_a_project_key_needs_its_member_in_the_project_even_if_not_revoked(
    services: Services, acme: Org, db: Database
) -> None:
    bob = invite_and_accept(services, acme, "bob@acme.test")
    key = services.credentials.create_project_key(acme.id, acme.project.id, bob.id, acme.by_admin)
    with db.transaction() as tx:  # a membership lost some other way than remove_member
        tx.delete_project_memberships(acme.id, bob.id)
    with pytest.raises(Unauthenticated, match="no longer belongs to its project"):
        services.credentials.authenticate_api_key(key.token)
