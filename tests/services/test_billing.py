"""Rule 9: one credit balance and one bill per organization; members buy and spend, usage rolls up by project
and member, and is never billed per member."""

from __future__ import annotations

import threading

import pytest

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, InsufficientCredits, InvalidInput
from gateway.services import Services
from gateway.storage.db import Database

from .conftest import CLI, Clock, Org, invite_and_accept


@pytest.fixture
def team(services: Services, acme: Org) -> tuple[m.Member, m.Member]:
    return (
        invite_and_accept(services, acme, "ada@acme.test"),
        invite_and_accept(services, acme, "bob@acme.test"),
    )


def test_members_buy_into_the_one_organization_balance(
    services: Services, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, bob = team
    services.billing.purchase(acme.id, ada.id, 100, CLI)
    services.billing.purchase(acme.id, bob.id, 50, CLI)
    assert services.billing.balance(acme.id) == 150


def test_usage_is_drawn_from_the_shared_balance_and_rolls_up(
    services: Services, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, bob = team
    services.billing.purchase(acme.id, ada.id, 100, CLI)
    services.billing.spend(acme.id, acme.project.id, bob.id, 30, CLI, "fine-tune")
    services.billing.spend(acme.id, acme.project.id, ada.id, 20, CLI)
    bill = services.billing.bill(acme.id)
    assert (bill.balance, bill.purchased, bill.used) == (50, 100, 50)
    assert [(u.project_name, u.credits) for u in bill.by_project] == [("Default Project", 50)]
    assert [(u.email, u.credits) for u in bill.by_member] == [("bob@acme.test", 30), ("ada@acme.test", 20)]


def test_usage_beyond_the_balance_is_refused_and_not_recorded(
    services: Services, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, _ = team
    services.billing.purchase(acme.id, ada.id, 10, CLI)
    with pytest.raises(InsufficientCredits, match="has 10 credit"):
        services.billing.spend(acme.id, acme.project.id, ada.id, 11, CLI)
    assert services.billing.bill(acme.id).used == 0


@pytest.mark.parametrize("credits", [0, -5, True, 10_000_001, 1.5])
def test_credit_amounts_must_be_positive_whole_numbers(
    services: Services, acme: Org, team: tuple[m.Member, m.Member], credits: object
) -> None:
    with pytest.raises(InvalidInput):
        services.billing.purchase(acme.id, team[0].id, credits, CLI)  # type: ignore[arg-type]


def test_only_active_project_members_spend(
    services: Services, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, bob = team
    services.billing.purchase(acme.id, ada.id, 100, CLI)
    services.orgs.set_multi_project(acme.id, True, CLI)
    lab = services.projects.create(acme.id, "Lab", CLI)
    with pytest.raises(Forbidden, match="members of this project"):
        services.billing.spend(acme.id, lab.id, bob.id, 5, CLI)
    services.members.suspend(acme.id, bob.id, CLI)
    with pytest.raises(Forbidden, match="active members"):
        services.billing.spend(acme.id, acme.project.id, bob.id, 5, CLI)
    with pytest.raises(Forbidden, match="active members"):
        services.billing.purchase(acme.id, bob.id, 5, CLI)


def test_a_removed_members_usage_stays_on_the_organizations_bill(
    services: Services, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, bob = team
    services.billing.purchase(acme.id, ada.id, 100, CLI)
    services.billing.spend(acme.id, acme.project.id, bob.id, 40, CLI)
    services.members.remove(acme.id, bob.id, CLI)
    bill = services.billing.bill(acme.id)
    assert (bill.balance, bill.used) == (60, 40)
    assert [(u.email, u.credits) for u in bill.by_member] == [("bob@acme.test", 40)]


def test_a_bill_covers_a_period(
    services: Services, clock: Clock, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    ada, _ = team
    services.billing.purchase(acme.id, ada.id, 100, CLI)
    services.billing.spend(acme.id, acme.project.id, ada.id, 10, CLI)
    start = clock.advance(days=31)
    services.billing.spend(acme.id, acme.project.id, ada.id, 5, CLI)
    bill = services.billing.bill(acme.id, since=start)
    assert (bill.purchased, bill.used, bill.balance) == (0, 5, 85)
    with pytest.raises(InvalidInput):
        services.billing.bill(acme.id, since=start, until=start)


def test_organizations_never_share_credits(
    services: Services, acme: Org, globex: Org, team: tuple[m.Member, m.Member]
) -> None:
    services.billing.purchase(acme.id, team[0].id, 100, CLI)
    assert services.billing.balance(globex.id) == 0
    with pytest.raises(InsufficientCredits):
        services.billing.spend(globex.id, globex.project.id, globex.admin.id, 1, CLI)


def test_concurrent_usage_never_overdraws(
    services: Services, db_url: str, clock: Clock, acme: Org, team: tuple[m.Member, m.Member]
) -> None:
    """Two spends racing for the last credits: the org lock serializes the balance check and the write."""
    ada, bob = team
    services.billing.purchase(acme.id, ada.id, 10, CLI)
    results: list[object] = []

    def spend(member: m.Member) -> None:
        database = Database(db_url)
        try:
            results.append(
                Services(database, clock=clock).billing.spend(acme.id, acme.project.id, member.id, 8, CLI)
            )
        except InsufficientCredits as error:
            results.append(error)
        finally:
            database.dispose()

    threads = [threading.Thread(target=spend, args=(who,)) for who in (ada, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(type(r).__name__ for r in results) == ["CreditEntry", "InsufficientCredits"]
    assert services.billing.balance(acme.id) == 2
