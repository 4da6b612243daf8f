"""Rule 7: an organization never loses its last Admin through SCIM or the UI without an explicit override."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.domain import model as m
from gateway.domain.errors import LastAdmin
from gateway.services import Services

from .conftest import IDP, Org, invite_and_accept

Change = Callable[[Services, Org, m.Member, bool], object]

CHANGES: dict[str, Change] = {
    "demote": lambda s, o, who, override: s.members.change_role(
        o.id, who.id, m.Role.MEMBER, o.by_admin, override=override
    ),
    "suspend": lambda s, o, who, override: s.members.suspend(o.id, who.id, o.by_admin, override=override),
    "remove": lambda s, o, who, override: s.members.remove(o.id, who.id, o.by_admin, override=override),
    "scim-remove": lambda s, o, who, override: s.members.remove(
        o.id, who.id, IDP, source=m.RemovalSource.SCIM, override=override
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_the_last_admin_cannot_be_lost(services: Services, acme: Org, change: str) -> None:
    invite_and_accept(services, acme, "bob@acme.test")
    with pytest.raises(LastAdmin, match="last Admin"):
        CHANGES[change](services, acme, acme.admin, False)
    stored = services.members.get(acme.id, acme.admin.id).member
    assert (stored.role, stored.status) == (m.Role.ADMIN, m.MemberStatus.ACTIVE)


@pytest.mark.parametrize("change", CHANGES)
def test_an_explicit_override_lets_the_last_admin_go_and_is_audited(
    services: Services, acme: Org, change: str
) -> None:
    CHANGES[change](services, acme, acme.admin, True)
    assert services.members.get(acme.id, acme.admin.id).member.is_admin is False
    expected = {"demote": "member.role_changed", "suspend": "member.suspended"}.get(change, "member.removed")
    events, _ = services.audit.list(acme.id, target_id=acme.admin.id, action=expected)
    assert len(events) == 1
    assert events[0].details["override"] is True


@pytest.mark.parametrize("change", CHANGES)
def test_an_admin_may_go_while_another_admin_remains(services: Services, acme: Org, change: str) -> None:
    other = invite_and_accept(services, acme, "bob@acme.test", m.Role.ADMIN)
    CHANGES[change](services, acme, other, False)
    with pytest.raises(LastAdmin):
        CHANGES[change](services, acme, acme.admin, False)


def test_a_suspended_admin_does_not_count(services: Services, acme: Org) -> None:
    other = invite_and_accept(services, acme, "bob@acme.test", m.Role.ADMIN)
    services.members.suspend(acme.id, other.id, acme.by_admin)
    with pytest.raises(LastAdmin):
        services.members.change_role(acme.id, acme.admin.id, m.Role.MEMBER, acme.by_admin)


def test_promoting_never_needs_an_override(services: Services, acme: Org) -> None:
    bob = invite_and_accept(services, acme, "bob@acme.test")
    promoted = services.members.change_role(acme.id, bob.id, m.Role.ADMIN, acme.by_admin)
    assert promoted.is_admin
    assert (
        services.members.change_role(acme.id, acme.admin.id, m.Role.MEMBER, acme.by_admin).role
        is m.Role.MEMBER
    )


def test_demoting_a_plain_member_is_a_no_op(services: Services, acme: Org) -> None:
    bob = invite_and_accept(services, acme, "bob@acme.test")
    services.members.change_role(acme.id, bob.id, m.Role.MEMBER, acme.by_admin)
    assert services.audit.list(acme.id, action="member.role_changed")[1] == 0
