"""Rule 12 in the pure core: when an account may move, the reason when it may not, what moving does, and
when the source organization must approve. Plain values, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.domain import model as m
from gateway.domain.migration import (
    REASONS,
    MigrationFacts,
    MigrationRefused,
    check_migration,
    migration_effects,
    needs_source_approval,
)

from .factories import NOW, invitation, member, org


def facts(**changes: object) -> MigrationFacts:
    source = org(m.MembershipMode.SSO)
    target = org(m.MembershipMode.INVITATION)
    base = MigrationFacts(
        email="ada@mail.test",
        target=target,
        source=source,
        source_member=member("ada@mail.test", org_id=source.id),
        source_other_members=0,
        source_active_admins=0,
        target_blocked=False,
        domain_owner_id=None,
        target_usable_connections=0,
        pending_invitation=None,
        now=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def reason(value: MigrationFacts) -> str:
    with pytest.raises(MigrationRefused) as refused:
        check_migration(value)
    assert refused.value.message == REASONS[refused.value.code]
    return refused.value.code


def test_a_personal_account_may_move_without_approval() -> None:
    value = facts()
    check_migration(value)
    assert not needs_source_approval(value)
    effects = migration_effects(value, m.Role.MEMBER)
    assert any("credit balance stays" in e for e in effects) and any("without members" in e for e in effects)


def test_a_team_account_needs_its_organization_to_approve() -> None:
    assert needs_source_approval(facts(source_other_members=3))


def test_each_refusal_has_its_reason() -> None:
    f = facts()
    assert reason(facts(source=None, source_member=None)) == "no_account_elsewhere"
    assert reason(replace(f, source=f.target)) == "same_organization"
    assert reason(facts(source_member=member(status=m.MemberStatus.SUSPENDED))) == "account_suspended"
    assert reason(facts(domain_owner_id="org-else")) == "domain_owned_elsewhere"
    assert reason(facts(target_blocked=True)) == "email_blocked"
    assert reason(facts(target=org(m.MembershipMode.SSO))) == "no_sso_connection"
    boss = member(role=m.Role.ADMIN)
    assert reason(facts(source_member=boss, source_active_admins=1, source_other_members=2)) == "last_admin"
    check_migration(facts(source_member=boss, source_active_admins=1, source_other_members=0))
    check_migration(replace(f, domain_owner_id=f.target.id))


def test_at_apply_time_the_request_must_still_hold() -> None:
    pending = invitation("ada@mail.test")
    applying = facts(
        requested_mode=m.MembershipMode.INVITATION, pending_invitation=pending, invitation_id=pending.id
    )
    check_migration(applying)
    assert reason(replace(applying, source_member=member(status=m.MemberStatus.REMOVED))) == "account_removed"
    assert reason(replace(applying, requested_mode=m.MembershipMode.SSO)) == "mode_changed"
    assert reason(replace(applying, pending_invitation=None)) == "invitation_gone"
    assert reason(replace(applying, invitation_id="another")) == "invitation_gone"
    assert reason(replace(applying, now=NOW + timedelta(days=8))) == "invitation_gone"
