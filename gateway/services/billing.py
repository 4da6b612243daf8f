"""Consolidated billing (rule 9): one credit balance and one bill per organization. Any active member may buy
credits and spend them in projects they belong to; usage rolls up by project and by member, never billed per
member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, InvalidInput
from gateway.domain.policy import check_can_spend, check_credit_amount
from gateway.services.base import ServiceBase, new_id
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
