"""A migration racing a mode switch of the target or a removal of the account in the source resolves to one
consistent outcome on both backends: whichever takes the organization locks first wins whole, the other sees
its result. Same technique as test_races.py: the first use case stops on its gated clock while it holds the
locks, the second is shown waiting for them, then the first is released."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.domain import model as m
from gateway.domain.errors import MemberInactive
from gateway.domain.migration import MigrationRefused
from gateway.services import Services
from gateway.storage.account_migration_tables import AccountMigration, MigrationStatus
from gateway.storage.db import Database

from .conftest import CLI, Org, invite_and_accept, make_org
from .test_races import GateClock, Run, race, second_process  # noqa: F401 (the fixture)

EMAIL = "ada@mail.test"


@pytest.fixture
def requested(services: Services, acme: Org) -> tuple[Org, Org, m.Member, AccountMigration]:
    """Ada, a Member of Initech, asked to move into Acme (invitation mode, with a connection ready to switch);
    Initech's Admin approved, so her confirmation applies it."""
    initech = make_org(services, "Initech", m.MembershipMode.INVITATION, domain="initech.test")
    ada = invite_and_accept(services, initech, EMAIL)
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    migration = services.migrations.request(acme.id, EMAIL, acme.by_admin)
    services.migrations.approve(initech.id, migration.id, initech.by_admin)
    return acme, initech, ada, migration


def confirming(
    svc: Services, initech: Org, ada: m.Member, migration: AccountMigration
) -> Callable[[], object]:
    actor = m.Actor(m.ActorType.MEMBER, id=ada.id, label=ada.email, member_id=ada.id)
    return lambda: svc.migrations.confirm(initech.id, migration.id, ada.id, migration.requested_at, actor)


def where_is_ada(services: Services, acme: Org, initech: Org) -> tuple[int, int]:
    return services.members.list(acme.id, query="ada@")[1], services.members.list(initech.id, query="ada@")[1]


def test_a_migration_applied_before_a_mode_switch_stands(
    services: Services,
    db: Database,
    requested: tuple[Org, Org, m.Member, AccountMigration],
    second_process: tuple[Services, GateClock, Services],  # noqa: F811
) -> None:
    acme, initech, ada, migration = requested
    gated, gate, plain = second_process
    move = Run(confirming(gated, initech, ada, migration))
    switch = Run(lambda: plain.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin))

    race(move, gate, switch, db)

    assert move.error is None and switch.error is None
    assert move.result.status is MigrationStatus.APPLIED
    assert switch.result.invitations_to_revoke == []
    assert where_is_ada(services, acme, initech) == (1, 0)
    assert services.orgs.get(acme.id).org.mode is m.MembershipMode.SSO


def test_a_mode_switch_before_the_migration_refuses_it(
    services: Services,
    db: Database,
    requested: tuple[Org, Org, m.Member, AccountMigration],
    second_process: tuple[Services, GateClock, Services],  # noqa: F811
) -> None:
    acme, initech, ada, migration = requested
    gated, gate, plain = second_process
    switch = Run(lambda: gated.mode.apply(acme.id, m.MembershipMode.SSO, acme.by_admin))
    move = Run(confirming(plain, initech, ada, migration))

    race(switch, gate, move, db)

    assert switch.error is None
    assert isinstance(move.error, MigrationRefused) and move.error.code == "mode_changed"
    assert switch.result.invitations_to_revoke == [migration.invitation_id]
    assert where_is_ada(services, acme, initech) == (0, 1)
    closed = services.migrations.get(acme.id, migration.id)
    assert (closed.status, closed.refusal_code) == (MigrationStatus.REFUSED, "mode_changed")


def test_a_migration_applied_before_a_removal_leaves_nothing_to_remove(
    services: Services,
    db: Database,
    requested: tuple[Org, Org, m.Member, AccountMigration],
    second_process: tuple[Services, GateClock, Services],  # noqa: F811
) -> None:
    acme, initech, ada, migration = requested
    gated, gate, plain = second_process
    move = Run(confirming(gated, initech, ada, migration))
    removal = Run(lambda: plain.members.remove(initech.id, ada.id, initech.by_admin))

    race(move, gate, removal, db)

    assert move.error is None
    assert isinstance(removal.error, MemberInactive)
    assert where_is_ada(services, acme, initech) == (1, 0)
    assert services.members.get(initech.id, ada.id).member.removed_by is m.RemovalSource.MIGRATION


def test_a_removal_before_the_migration_refuses_it(
    services: Services,
    db: Database,
    requested: tuple[Org, Org, m.Member, AccountMigration],
    second_process: tuple[Services, GateClock, Services],  # noqa: F811
) -> None:
    acme, initech, ada, migration = requested
    gated, gate, plain = second_process
    removal = Run(lambda: gated.members.remove(initech.id, ada.id, initech.by_admin))
    move = Run(confirming(plain, initech, ada, migration))

    race(removal, gate, move, db)

    assert removal.error is None
    assert isinstance(move.error, MigrationRefused) and move.error.code == "account_removed"
    assert where_is_ada(services, acme, initech) == (0, 0)
    assert services.members.get(initech.id, ada.id).member.removed_by is m.RemovalSource.ADMIN
    assert services.migrations.get(initech.id, migration.id).refusal_code == "account_removed"


def test_two_migrations_in_opposite_directions_do_not_deadlock(
    services: Services,
    db: Database,
    acme: Org,
    second_process: tuple[Services, GateClock, Services],  # noqa: F811
) -> None:
    """Each migration locks both organizations in id order, so opposite directions queue instead of deadlocking."""
    left = make_org(services, "Left", m.MembershipMode.SSO, domain="left.test", connection=True)
    right = make_org(services, "Right", m.MembershipMode.SSO, domain="right.test", connection=True)
    invite_and_accept(services, acme, "one@mail.test")
    invite_and_accept(services, acme, "two@mail.test")
    services.migrations.support_apply("one@mail.test", left.id, CLI)
    services.migrations.support_apply("two@mail.test", right.id, CLI)
    gated, gate, plain = second_process
    first = Run(lambda: gated.migrations.support_apply("one@mail.test", right.id, CLI))
    second = Run(lambda: plain.migrations.support_apply("two@mail.test", left.id, CLI))

    race(first, gate, second, db)

    assert first.error is None and second.error is None
    assert services.members.list(right.id, query="one@")[1] == 1
    assert services.members.list(left.id, query="two@")[1] == 1
