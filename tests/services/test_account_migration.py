"""Rule 12: an account moves between organizations as a workflow (requested by the target, confirmed by the
person, approved by the source or by support) and is applied in one transaction: a removal on the source side,
a join on the target side, the credit balance left where it was, audited in both organizations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, NotFound, Unauthenticated
from gateway.domain.migration import MigrationRefused
from gateway.services import Services
from gateway.storage.account_migration_tables import Approval, MigrationStatus

from .conftest import CLI, Clock, Org, actions, invite_and_accept, make_org, project_ids

EMAIL = "ada@mail.test"


@dataclass
class Person:
    """Ada's account in her current organization, with everything a removal must take away."""

    org: Org | None
    org_id: str
    member: m.Member
    session_token: str
    key_token: str | None = None
    resource: m.Resource | None = None

    @property
    def actor(self) -> m.Actor:
        return m.Actor(
            m.ActorType.MEMBER, id=self.member.id, label=self.member.email, member_id=self.member.id
        )


def personal_account(services: Services, clock: Clock) -> Person:
    """The typical personal account: an organization of one, Ada its only (Admin) member."""
    view = services.orgs.create("Ada Lovelace", m.MembershipMode.INVITATION, CLI)
    member = services.members.add_admin(view.org.id, EMAIL, CLI)
    _, token = services.sessions.start(view.org.id, member.id, CLI)
    return Person(None, view.org.id, member, token)


@pytest.fixture
def personal(services: Services, clock: Clock) -> Person:
    return personal_account(services, clock)


@pytest.fixture
def initech(services: Services) -> Org:
    return make_org(services, "Initech", m.MembershipMode.INVITATION, domain="initech.test")


@pytest.fixture
def team(services: Services, initech: Org) -> Person:
    """Ada as a Member of Initech (a team): a session, a project key, a resource, credits bought and used."""
    member = invite_and_accept(services, initech, EMAIL)
    _, token = services.sessions.start(initech.id, member.id, CLI)
    key = services.credentials.create_project_key(initech.id, initech.project.id, member.id, initech.by_admin)
    resource = services.projects.create_resource(
        initech.id, initech.project.id, m.ResourceKind.MODEL, "sentiment-v1", member.id, initech.by_admin
    )
    services.billing.purchase(initech.id, member.id, 500, initech.by_admin)
    services.billing.spend(initech.id, initech.project.id, member.id, 120, initech.by_admin)
    return Person(initech, initech.id, member, token, key.token, resource)


def signed_in_now(services: Services, person: Person) -> m.WebSession:
    session, _ = services.sessions.start(person.org_id, person.member.id, person.actor)
    return session


def confirm(services: Services, person: Person, migration_id: str) -> object:
    session = signed_in_now(services, person)
    return services.migrations.confirm(
        person.org_id, migration_id, person.member.id, session.created_at, person.actor
    )


# -- the paths -----------------------------------------------------------------------------------------------
def test_a_personal_account_moves_into_an_invitation_mode_org_once_the_person_confirms(
    services: Services, acme: Org, personal: Person, clock: Clock
) -> None:
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin, m.Role.ADMIN)
    assert (migration.status, migration.approval) == (MigrationStatus.REQUESTED, Approval.AUTOMATIC)
    invitation = services.invitations.get(acme.id, migration.invitation_id or "")
    assert invitation.status is m.InvitationStatus.PENDING

    clock.advance(minutes=5)
    applied = confirm(services, personal, migration.id)

    assert applied.status is MigrationStatus.APPLIED  # type: ignore[attr-defined]
    old = services.members.get(personal.org_id, personal.member.id).member
    assert (old.status, old.removed_by) == (m.MemberStatus.REMOVED, m.RemovalSource.MIGRATION)
    assert services.sessions.resolve(personal.session_token) is None
    new = services.members.get(acme.id, applied.target_member_id).member  # type: ignore[attr-defined]
    assert (new.email, new.role, new.status, new.joined_via) == (
        EMAIL, m.Role.ADMIN, m.MemberStatus.ACTIVE, m.JoinPath.MIGRATION,
    )  # fmt: skip
    assert project_ids(services, acme, new) == [acme.project.id]
    accepted = services.invitations.get(acme.id, invitation.id)
    assert (accepted.status, accepted.accepted_member_id) == (m.InvitationStatus.ACCEPTED, new.id)
    for org_id in (acme.id, personal.org_id):
        events, _ = services.audit.list(org_id, action="account_migration.*")
        assert [e.action for e in reversed(events)] == [
            "account_migration.requested", "account_migration.confirmed", "account_migration.applied",
        ]  # fmt: skip
    assert "member.removed" in actions(
        services, Org(services.orgs.get(personal.org_id).org, acme.project, old)
    )
    assert "member.joined" in actions(services, acme)


def test_a_team_account_waits_for_its_source_admin_and_leaves_resources_and_credits_behind(
    services: Services, globex: Org, initech: Org, team: Person, clock: Clock
) -> None:
    before = services.billing.balance(initech.id)
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    assert migration.approval is None and migration.invitation_id is None
    clock.advance(minutes=1)
    confirmed = confirm(services, team, migration.id)
    assert confirmed.status is MigrationStatus.REQUESTED  # type: ignore[attr-defined]
    assert services.members.get(initech.id, team.member.id).member.status is m.MemberStatus.ACTIVE

    applied = services.migrations.approve(initech.id, migration.id, initech.by_admin)

    assert (applied.status, applied.approval, applied.approved_by) == (
        MigrationStatus.APPLIED, Approval.ADMIN, initech.admin.email,
    )  # fmt: skip
    assert project_ids(services, initech, team.member) == []
    with pytest.raises(Unauthenticated):
        services.credentials.authenticate_api_key(team.key_token or "")
    resources, _ = services.projects.resources(initech.id, initech.project.id)
    assert [(r.name, r.created_by) for r in resources] == [("sentiment-v1", team.member.id)]
    assert services.billing.balance(initech.id) == before == 380
    assert services.billing.balance(globex.id) == 0
    joined = services.members.get(globex.id, applied.target_member_id or "").member
    assert (joined.email, joined.role, joined.joined_via) == (EMAIL, m.Role.MEMBER, m.JoinPath.MIGRATION)
    events, _ = services.audit.list(initech.id, action="account_migration.applied")
    assert events[0].details["api_keys_revoked"] == 1 and events[0].details["resources_kept"] == 1


def test_approval_before_confirmation_applies_at_confirmation(
    services: Services, globex: Org, initech: Org, team: Person
) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    approved = services.migrations.approve(initech.id, migration.id, initech.by_admin)
    assert approved.status is MigrationStatus.REQUESTED
    assert confirm(services, team, migration.id).status is MigrationStatus.APPLIED  # type: ignore[attr-defined]


def test_the_dry_run_lists_the_effects_and_writes_nothing(
    services: Services, globex: Org, initech: Org, team: Person
) -> None:
    audit_before = services.audit.list(globex.id)[1]
    preview = services.migrations.preview(globex.id, EMAIL)
    assert preview.allowed and preview.needs_approval
    assert preview.source is None  # the target's Admins do not learn where the account is
    assert all("Initech" not in effect for effect in preview.effects)
    assert any("leaves their current organization" in effect for effect in preview.effects)
    assert any("identity provider" in effect for effect in preview.effects)
    assert any("credit balance stays with it" in effect for effect in preview.effects)
    support = services.migrations.support_preview(EMAIL, globex.id)
    assert support.source is not None and support.source.id == initech.id
    assert any("leaves Initech" in effect for effect in support.effects)
    assert services.migrations.list(globex.id) == []
    assert services.audit.list(globex.id)[1] == audit_before


def test_a_source_org_that_gains_a_member_must_approve_after_all(
    services: Services, acme: Org, personal: Person
) -> None:
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin)
    assert migration.approval is Approval.AUTOMATIC
    services.members.add_admin(personal.org_id, "grace@mail2.test", CLI)
    waiting = confirm(services, personal, migration.id)
    assert waiting.status is MigrationStatus.REQUESTED and waiting.approval is None  # type: ignore[attr-defined]


# -- support -------------------------------------------------------------------------------------------------
def test_support_applies_without_confirmation_or_approval(
    services: Services, globex: Org, initech: Org, team: Person
) -> None:
    preview = services.migrations.support_preview(EMAIL, globex.id)
    assert preview.allowed and services.migrations.list(globex.id) == []
    applied = services.migrations.support_apply(EMAIL, globex.id, CLI, m.Role.ADMIN)
    assert (applied.status, applied.approval, applied.role) == (
        MigrationStatus.APPLIED, Approval.SUPPORT, m.Role.ADMIN,
    )  # fmt: skip
    assert services.members.get(initech.id, team.member.id).member.status is m.MemberStatus.REMOVED


def test_support_applies_into_an_invitation_mode_org_using_up_the_invitation(
    services: Services, acme: Org, personal: Person
) -> None:
    applied = services.migrations.support_apply(EMAIL, acme.id, CLI)
    invitation = services.invitations.get(acme.id, applied.invitation_id or "")
    assert (invitation.status, invitation.accepted_member_id) == (
        m.InvitationStatus.ACCEPTED,
        applied.target_member_id,
    )


def test_support_applies_an_open_request(services: Services, globex: Org, team: Person) -> None:
    requested = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    applied = services.migrations.support_apply(EMAIL, globex.id, CLI)
    assert applied.id == requested.id and applied.status is MigrationStatus.APPLIED


def test_support_refuses_an_open_request_with_a_reason(services: Services, globex: Org, team: Person) -> None:
    services.migrations.request(globex.id, EMAIL, globex.by_admin)
    refused = services.migrations.support_refuse(EMAIL, globex.id, CLI, "Asked by the account holder")
    assert (refused.status, refused.refusal_code, refused.refusal_reason) == (
        MigrationStatus.REFUSED, "refused_by_support", "Asked by the account holder",
    )  # fmt: skip
    with pytest.raises(NotFound):
        services.migrations.support_refuse(EMAIL, globex.id, CLI)


# -- refusals ------------------------------------------------------------------------------------------------
def refused(call: object, code: str) -> MigrationRefused:
    with pytest.raises(MigrationRefused) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code == code
    assert caught.value.message
    return caught.value


def test_an_address_without_an_account_elsewhere_is_refused(services: Services, acme: Org) -> None:
    refused(
        lambda: services.migrations.request(acme.id, "nobody@mail.test", acme.by_admin),
        "no_account_elsewhere",
    )
    preview = services.migrations.preview(acme.id, "nobody@mail.test")
    assert not preview.allowed and preview.refusal is not None
    assert preview.refusal.code == "no_account_elsewhere"


def test_a_member_of_the_target_is_refused(services: Services, acme: Org) -> None:
    refused(
        lambda: services.migrations.request(acme.id, acme.admin.email, acme.by_admin), "same_organization"
    )


def test_an_address_in_a_domain_another_org_owns_is_refused(
    services: Services, acme: Org, globex: Org
) -> None:
    services.members.sso_sign_in(globex.id, "bob@globex.test", CLI)
    refused(
        lambda: services.migrations.request(acme.id, "bob@globex.test", acme.by_admin),
        "domain_owned_elsewhere",
    )


def test_a_blocked_address_is_refused(services: Services, acme: Org, personal: Person) -> None:
    services.members.block_email(acme.id, EMAIL, acme.by_admin)
    refused(lambda: services.migrations.request(acme.id, EMAIL, acme.by_admin), "email_blocked")


def test_an_sso_target_without_a_usable_connection_is_refused(services: Services, personal: Person) -> None:
    bare = make_org(services, "Hooli", m.MembershipMode.SSO, domain="hooli.test")
    refused(lambda: services.migrations.request(bare.id, EMAIL, bare.by_admin), "no_sso_connection")


def test_a_suspended_account_is_refused(services: Services, globex: Org, initech: Org, team: Person) -> None:
    services.members.suspend(initech.id, team.member.id, initech.by_admin)
    refused(lambda: services.migrations.request(globex.id, EMAIL, globex.by_admin), "account_suspended")


def test_the_last_admin_of_a_team_is_refused(services: Services, globex: Org, team: Person) -> None:
    view = services.orgs.create("Tiny team", m.MembershipMode.INVITATION, CLI)
    services.members.add_admin(view.org.id, "boss@mail.test", CLI)
    services.members.add_admin(view.org.id, "bob@mail.test", CLI)
    bob = services.members.list(view.org.id, query="bob@")[0][0]
    services.members.change_role(view.org.id, bob.id, m.Role.MEMBER, CLI)
    refused(lambda: services.migrations.request(globex.id, "boss@mail.test", globex.by_admin), "last_admin")


def test_a_second_request_is_refused_while_one_waits(services: Services, globex: Org, team: Person) -> None:
    services.migrations.request(globex.id, EMAIL, globex.by_admin)
    refused(lambda: services.migrations.request(globex.id, EMAIL, globex.by_admin), "already_requested")


def test_only_the_person_can_confirm(services: Services, globex: Org, initech: Org, team: Person) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    admin = Person(initech, initech.id, initech.admin, "")
    refused(lambda: confirm(services, admin, migration.id), "not_the_account_holder")
    with pytest.raises(NotFound):
        services.migrations.confirm("other-org", migration.id, team.member.id, team.member.created_at, CLI)


def test_confirming_needs_a_sign_in_after_the_request(
    services: Services, globex: Org, team: Person, clock: Clock
) -> None:
    session, _ = services.sessions.start(team.org_id, team.member.id, CLI)
    clock.advance(minutes=1)
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    refused(
        lambda: services.migrations.confirm(
            team.org_id, migration.id, team.member.id, session.created_at, CLI
        ),
        "sign_in_again",
    )
    assert services.migrations.get(globex.id, migration.id).is_open


def test_only_the_source_org_approves(services: Services, globex: Org, team: Person) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    with pytest.raises(Forbidden):
        services.migrations.approve(globex.id, migration.id, globex.by_admin)


def test_a_mode_switch_after_the_request_closes_it(services: Services, acme: Org, personal: Person) -> None:
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin)
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    services.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin)
    refused(lambda: confirm(services, personal, migration.id), "mode_changed")
    closed = services.migrations.get(acme.id, migration.id)
    assert (closed.status, closed.refusal_code) == (MigrationStatus.REFUSED, "mode_changed")
    assert services.members.get(personal.org_id, personal.member.id).member.is_active


def test_revoking_the_invitation_closes_it(services: Services, acme: Org, personal: Person) -> None:
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin)
    services.invitations.revoke(acme.id, migration.invitation_id or "", acme.by_admin)
    refused(lambda: confirm(services, personal, migration.id), "invitation_gone")
    assert services.migrations.get(acme.id, migration.id).refusal_code == "invitation_gone"


def test_a_removal_after_the_request_closes_it(
    services: Services, globex: Org, initech: Org, team: Person
) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    confirm(services, team, migration.id)
    services.members.remove(initech.id, team.member.id, initech.by_admin)
    refused(
        lambda: services.migrations.approve(initech.id, migration.id, initech.by_admin), "account_removed"
    )
    assert services.migrations.get(initech.id, migration.id).status is MigrationStatus.REFUSED
    assert services.members.list(globex.id, query="ada@")[1] == 0


def test_a_finished_migration_cannot_be_acted_on(services: Services, acme: Org, personal: Person) -> None:
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin)
    confirm(services, personal, migration.id)
    refused(lambda: services.migrations.decline(acme.id, migration.id, acme.by_admin), "not_open")
    refused(lambda: services.migrations.support_apply(EMAIL, acme.id, CLI), "same_organization")


@pytest.mark.parametrize("who", ["person", "source", "target"])
def test_the_person_or_an_admin_of_either_side_can_refuse(
    services: Services, globex: Org, initech: Org, team: Person, who: str
) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    if who == "person":
        done = services.migrations.decline(
            initech.id, migration.id, team.actor, reason="Not now", as_member_id=team.member.id
        )
    elif who == "source":
        done = services.migrations.decline(initech.id, migration.id, initech.by_admin, reason="Not now")
    else:
        done = services.migrations.decline(globex.id, migration.id, globex.by_admin, reason="Not now")
    assert (done.status, done.refusal_code, done.refusal_reason) == (
        MigrationStatus.REFUSED, f"refused_by_{who}", "Not now",
    )  # fmt: skip
    for org in (globex, initech):
        assert actions(services, org, action="account_migration.*")[-1] == "account_migration.refused"
    assert services.members.get(initech.id, team.member.id).member.is_active


def test_someone_else_cannot_refuse_for_the_person(
    services: Services, globex: Org, initech: Org, team: Person
) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    refused(
        lambda: services.migrations.decline(initech.id, migration.id, CLI, as_member_id=initech.admin.id),
        "not_the_account_holder",
    )


def test_both_sides_list_the_migration_and_nobody_else_sees_it(
    services: Services, acme: Org, globex: Org, initech: Org, team: Person
) -> None:
    migration = services.migrations.request(globex.id, EMAIL, globex.by_admin)
    assert [x.id for x in services.migrations.list(globex.id)] == [migration.id]
    assert [x.id for x in services.migrations.list(initech.id)] == [migration.id]
    assert services.migrations.list(acme.id) == []
    with pytest.raises(NotFound):
        services.migrations.get(acme.id, migration.id)
    assert [x.id for x in services.migrations.waiting_for(initech.id, team.member.id)] == [migration.id]


def test_the_only_admin_of_an_org_of_one_may_leave_it(
    services: Services, globex: Org, personal: Person
) -> None:
    applied = services.migrations.support_apply(EMAIL, globex.id, CLI)
    assert applied.status is MigrationStatus.APPLIED
    assert services.members.list(personal.org_id)[1] == 0
