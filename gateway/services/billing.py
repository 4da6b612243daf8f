"""Consolidated billing (rule 9): one credit balance and one bill per organization. Any active member may buy
credits and spend them in projects they belong to; usage rolls up by project and by member, never billed per
member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain import model as m
from gateway.domain.billing_policy import check_monthly_limit, check_purchase, month_bounds, month_of
from gateway.domain.errors import Forbidden, InvalidInput
from gateway.domain.policy import check_can_spend, check_credit_amount
from gateway.services.base import ServiceBase, new_id
from gateway.services.statements import Share, Statement, StatementLine
from gateway.storage.account_migration_store import MigrationStore
from gateway.storage.account_migration_tables import PurchasePolicy
from gateway.storage.store import Store


@dataclass(frozen=True)
class ProjectUsage:
    project_id: str | None
    project_name: str | None
    credits: int


@dataclass(frozen=True)
class MemberUsage:
    member_id: str
    email: str
    credits: int


@dataclass(frozen=True)
class Bill:
    """The organization's single bill for a period: what was bought, what was used, and where it went."""

    org_id: str
    balance: int
    purchased: int
    used: int
    by_project: list[ProjectUsage]
    by_member: list[MemberUsage]
    since: datetime | None = None
    until: datetime | None = None


def _description(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > 200:
        raise InvalidInput("A description must be at most 200 characters.", field="description")
    return value


class BillingService(ServiceBase):
    def _active_member(self, tx: Store, org_id: str, member_id: str) -> m.Member:
        member: m.Member = self.found(tx.get(m.Member, org_id, member_id), "member")
        if member.status is not m.MemberStatus.ACTIVE:
            raise Forbidden("Only active members can buy or use credits.")
        return member

    @staticmethod
    def _balance(tx: Store, org_id: str) -> int:
        totals = tx.credit_totals(org_id)
        return totals[m.CreditKind.PURCHASE] - totals[m.CreditKind.USAGE]

    def purchase(
        self, org_id: str, member_id: str, credits: int, actor: m.Actor, description: str | None = None
    ) -> m.CreditEntry:
        credits = check_credit_amount(credits)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id, exclusive=True)
            member = self._active_member(tx, org_id, member_id)
            self._check_policy(tx, member, credits)
            entry = m.CreditEntry(
                new_id(), org_id, m.CreditKind.PURCHASE, credits, member.id, self.now(),
                description=_description(description),
            )  # fmt: skip
            tx.add(entry)
            self.audit(
                tx, org_id, actor, "billing.credits_purchased", entry, credits=credits, member_id=member.id
            )
            return entry

    def spend(
        self,
        org_id: str,
        project_id: str,
        member_id: str,
        credits: int,
        actor: m.Actor,
        description: str | None = None,
    ) -> m.CreditEntry:
        """Usage by a member in one of their projects, drawn from the organization's balance (never below 0)."""
        credits = check_credit_amount(credits)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id, exclusive=True)
            project = self.found(tx.get(m.Project, org_id, project_id), "project")
            member = self._active_member(tx, org_id, member_id)
            if tx.project_membership(org_id, project.id, member.id) is None:
                raise Forbidden("Only members of this project can use credits in it.")
            check_can_spend(self._balance(tx, org_id), credits)
            entry = m.CreditEntry(
                new_id(), org_id, m.CreditKind.USAGE, credits, member.id, self.now(),
                project_id=project.id, description=_description(description),
            )  # fmt: skip
            tx.add(entry)
            return entry

    def balance(self, org_id: str) -> int:
        with self.db.transaction() as tx:
            return self._balance(tx, org_id)

    def bill(self, org_id: str, *, since: datetime | None = None, until: datetime | None = None) -> Bill:
        if since is not None and until is not None and until <= since:
            raise InvalidInput("The end of the period must come after its start.", field="until")
        with self.db.transaction() as tx:
            self.found(tx.org(org_id), "organization")
            totals = tx.credit_totals(org_id, since, until)
            return Bill(
                org_id=org_id,
                balance=self._balance(tx, org_id),
                purchased=totals[m.CreditKind.PURCHASE],
                used=totals[m.CreditKind.USAGE],
                by_project=[ProjectUsage(*row) for row in tx.usage_by_project(org_id, since, until)],
                by_member=[MemberUsage(*row) for row in tx.usage_by_member(org_id, since, until)],
                since=since,
                until=until,
            )

    def entries(
        self,
        org_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.CreditEntry], int]:
        with self.db.transaction() as tx:
            return tx.credit_entries(org_id, since=since, until=until, offset=offset, limit=limit)

    # -- the purchase policy -------------------------------------------------------------------------------
    def _check_policy(self, tx: Store, member: m.Member, credits: int) -> None:
        store = MigrationStore(tx)
        policy = store.purchase_policy(member.org_id)
        if policy is None:
            return
        since, until = month_of(self.now())
        check_purchase(
            member.role,
            members_may_purchase=policy.members_may_purchase,
            monthly_limit=policy.monthly_limit_per_member,
            bought_this_month=store.purchased_by_member(member.org_id, member.id, since, until),
            credits=credits,
        )

    def purchase_policy(self, org_id: str) -> PurchasePolicy:
        """The organization's policy; without a stored one, any member may buy with no monthly limit."""
        with self.db.transaction() as tx:
            self.found(tx.org(org_id), "organization")
            stored = MigrationStore(tx).purchase_policy(org_id)
            return stored or PurchasePolicy(org_id=org_id, updated_at=self.now())

    def remaining_this_month(self, org_id: str, member_id: str) -> int | None:
        """Credits ``member_id`` may still buy this month under the limit; None when there is no limit."""
        with self.db.transaction() as tx:
            store = MigrationStore(tx)
            policy = store.purchase_policy(org_id)
            if policy is None or policy.monthly_limit_per_member is None:
                return None
            since, until = month_of(self.now())
            bought = store.purchased_by_member(org_id, member_id, since, until)
            return max(0, policy.monthly_limit_per_member - bought)

    def set_purchase_policy(
        self, org_id: str, actor: m.Actor, *, members_may_purchase: bool, monthly_limit_per_member: int | None
    ) -> PurchasePolicy:
        """An Admin decides whether Members may buy credits and how many each member may buy per month."""
        limit = check_monthly_limit(monthly_limit_per_member)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            store = MigrationStore(tx)
            policy = store.purchase_policy(org_id)
            now = self.now()
            if policy is None:
                policy = PurchasePolicy(org_id=org_id, updated_at=now)
                tx.add(policy)
            previous = (policy.members_may_purchase, policy.monthly_limit_per_member)
            policy.members_may_purchase = bool(members_may_purchase)
            policy.monthly_limit_per_member = limit
            policy.updated_at, policy.updated_by = now, actor.label
            self.audit(
                tx, org_id, actor, "billing.policy_changed", None,
                members_may_purchase=policy.members_may_purchase, monthly_limit_per_member=limit,
                previous={"members_may_purchase": previous[0], "monthly_limit_per_member": previous[1]},
            )  # fmt: skip
            return policy

    # -- monthly statements --------------------------------------------------------------------------------
    def statement(self, org_id: str, year: int, month: int) -> Statement:
        """The bill of one calendar month (UTC), with every ledger line of the month."""
        since, until = month_bounds(year, month)
        with self.db.transaction() as tx:
            org = self.found(tx.org(org_id), "organization")
            store = MigrationStore(tx)
            before = tx.credit_totals(org_id, None, since)
            totals = tx.credit_totals(org_id, since, until)
            lines = []
            for entry in store.ledger(org_id, since, until):
                member = tx.get(m.Member, org_id, entry.member_id)
                project = tx.get(m.Project, org_id, entry.project_id) if entry.project_id else None
                lines.append(
                    StatementLine(entry, member.email if member else None, project.name if project else None)
                )
            return Statement(
                org_id=org.id,
                org_name=org.name,
                year=year,
                month=month,
                since=since,
                until=until,
                opening_balance=before[m.CreditKind.PURCHASE] - before[m.CreditKind.USAGE],
                purchased=totals[m.CreditKind.PURCHASE],
                used=totals[m.CreditKind.USAGE],
                usage_by_project=[Share(*row) for row in tx.usage_by_project(org_id, since, until)],
                usage_by_member=[Share(*row) for row in tx.usage_by_member(org_id, since, until)],
                purchases_by_member=[Share(*row) for row in store.purchases_by_member(org_id, since, until)],
                lines=lines,
            )

    def statement_months(self, org_id: str) -> list[tuple[int, int]]:
        """Every month from the first ledger line to now, newest first: one bill per month."""
        with self.db.transaction() as tx:
            self.found(tx.org(org_id), "organization")
            span = MigrationStore(tx).ledger_span(org_id)
        now = self.now()
        if span is None:
            return [(now.year, now.month)]
        year, month = span[0].year, span[0].month
        last = max((now.year, now.month), (span[1].year, span[1].month))
        months = []
        while (year, month) <= last:
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months[::-1]
