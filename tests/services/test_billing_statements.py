"""Rule 9, continued: Admins decide whether Members may buy credits and how many each member may buy per month
(refused over it, with the reason); each calendar month has one statement that adds up to the ledger."""

from __future__ import annotations

import csv
import io
import random

import pytest

from gateway.domain import model as m
from gateway.domain.errors import InvalidInput, PurchaseLimitExceeded, PurchaseNotAllowed
from gateway.services import Services
from gateway.services.statements import statement_csv, statement_dict

from .conftest import Clock, Org, actions, invite_and_accept

Team = tuple[m.Member, m.Member]


@pytest.fixture
def team(services: Services, acme: Org) -> tuple[m.Member, m.Member]:
    return invite_and_accept(services, acme, "ada@acme.test"), invite_and_accept(
        services, acme, "bob@acme.test"
    )


def test_without_a_policy_any_member_buys_without_limit(services: Services, acme: Org, team: Team) -> None:
    policy = services.billing.purchase_policy(acme.id)
    assert (policy.members_may_purchase, policy.monthly_limit_per_member) == (True, None)
    services.billing.purchase(acme.id, team[0].id, 9_000_000, acme.by_admin)
    assert services.billing.remaining_this_month(acme.id, team[0].id) is None


def test_admins_can_reserve_purchases_to_admins(services: Services, acme: Org, team: Team) -> None:
    services.billing.set_purchase_policy(
        acme.id, acme.by_admin, members_may_purchase=False, monthly_limit_per_member=None
    )
    with pytest.raises(PurchaseNotAllowed, match="only Admins"):
        services.billing.purchase(acme.id, team[0].id, 10, acme.by_admin)
    services.billing.purchase(acme.id, acme.admin.id, 10, acme.by_admin)
    assert services.billing.balance(acme.id) == 10
    assert "billing.policy_changed" in actions(services, acme)


def test_the_monthly_limit_per_member_refuses_with_what_is_left(
    services: Services, acme: Org, team: Team, clock: Clock
) -> None:
    ada, bob = team
    services.billing.set_purchase_policy(
        acme.id, acme.by_admin, members_may_purchase=True, monthly_limit_per_member=1_000
    )
    services.billing.purchase(acme.id, ada.id, 700, acme.by_admin)
    with pytest.raises(PurchaseLimitExceeded) as refused:
        services.billing.purchase(acme.id, ada.id, 301, acme.by_admin)
    assert refused.value.details["remaining"] == 300
    assert "at most 300 more" in refused.value.message
    services.billing.purchase(acme.id, ada.id, 300, acme.by_admin)
    services.billing.purchase(acme.id, bob.id, 1_000, acme.by_admin)  # the limit is per member
    assert services.billing.remaining_this_month(acme.id, ada.id) == 0
    clock.advance(days=30)  # 2026-12-02: a new month, a new allowance
    services.billing.purchase(acme.id, ada.id, 1_000, acme.by_admin)
    assert services.billing.balance(acme.id) == 3_000


@pytest.mark.parametrize("limit", [-1, 10**13, True, "5"])
def test_a_bad_limit_is_refused(services: Services, acme: Org, limit: object) -> None:
    with pytest.raises(InvalidInput):
        services.billing.set_purchase_policy(
            acme.id,
            acme.by_admin,
            members_may_purchase=True,
            monthly_limit_per_member=limit,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("month", [0, 13])
def test_a_bad_month_is_refused(services: Services, acme: Org, month: int) -> None:
    with pytest.raises(InvalidInput):
        services.billing.statement(acme.id, 2026, month)


def test_each_monthly_statement_adds_up_to_the_ledger(
    services: Services, acme: Org, team: Team, clock: Clock
) -> None:
    """Three months of random purchases and usage in two projects: each statement's lines sum to its totals,
    its shares sum to the same totals, its closing balance is the next month's opening balance, the CSV and
    JSON exports say the same, and the months together are the whole ledger."""
    services.orgs.set_multi_project(acme.id, True, acme.by_admin)
    lab = services.projects.create(acme.id, "Lab", acme.by_admin)
    for member in team:
        services.projects.add_member(acme.id, lab.id, member.id, acme.by_admin)
    rng = random.Random(20261102)
    for _ in range(60):
        clock.advance(hours=rng.randint(10, 60))
        who = rng.choice(team)
        if rng.random() < 0.4 or services.billing.balance(acme.id) < 50:
            services.billing.purchase(acme.id, who.id, rng.randint(50, 500), acme.by_admin)
        else:
            project = rng.choice([acme.project.id, lab.id])
            services.billing.spend(acme.id, project, who.id, rng.randint(1, 50), acme.by_admin, "run")
    months = services.billing.statement_months(acme.id)
    assert months[-1] == (2026, 11) and len(months) >= 3

    previous_closing = 0
    purchased = used = 0
    for year, month in reversed(months):
        st = services.billing.statement(acme.id, year, month)
        lines = st.lines
        assert st.opening_balance == previous_closing
        assert st.purchased == sum(x.entry.credits for x in lines if x.entry.kind is m.CreditKind.PURCHASE)
        assert st.used == sum(x.entry.credits for x in lines if x.entry.kind is m.CreditKind.USAGE)
        assert st.closing_balance == st.opening_balance + st.purchased - st.used >= 0
        assert sum(s.credits for s in st.usage_by_project) == st.used
        assert sum(s.credits for s in st.usage_by_member) == st.used
        assert sum(s.credits for s in st.purchases_by_member) == st.purchased
        assert all(st.since <= x.entry.created_at < st.until for x in lines)
        as_json = statement_dict(st)
        assert (as_json["opening_balance"], as_json["closing_balance"]) == (
            st.opening_balance,
            st.closing_balance,
        )
        assert sum(x["credits"] for x in as_json["lines"]) == st.purchased + st.used
        rows = list(csv.reader(io.StringIO(statement_csv(st))))
        ledger_rows = [
            r
            for r in rows[2:]
            if r and r[0] not in ("total", "usage_by_project", "usage_by_member", "purchases_by_member")
        ]
        assert len(ledger_rows) == len(lines)
        assert sum(int(r[2]) for r in ledger_rows if r[1] == "purchase") == st.purchased
        totals = {r[1]: int(r[2]) for r in rows if r and r[0] == "total"}
        assert totals["closing_balance"] == st.closing_balance
        previous_closing = st.closing_balance
        purchased += st.purchased
        used += st.used

    bill = services.billing.bill(acme.id)
    assert (bill.purchased, bill.used, bill.balance) == (purchased, used, previous_closing)
    entries, total = services.billing.entries(acme.id, limit=1000)
    assert total == 60 and sum(e.credits for e in entries) == purchased + used


def test_a_month_without_activity_carries_the_balance(
    services: Services, acme: Org, team, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    services.billing.purchase(acme.id, team[0].id, 40, acme.by_admin)
    st = services.billing.statement(acme.id, 2027, 1)
    assert (st.opening_balance, st.purchased, st.used, st.closing_balance, st.lines) == (40, 0, 0, 40, [])


def test_csv_cells_cannot_run_as_formulas(services: Services, acme: Org, team: Team) -> None:
    services.billing.purchase(acme.id, team[0].id, 5, acme.by_admin, '=HYPERLINK("x")')
    text = statement_csv(services.billing.statement(acme.id, 2026, 11))
    assert "'=HYPERLINK" in text
