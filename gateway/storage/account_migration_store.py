"""The storage contract of account migrations and purchase policies, every method scoped by organization.

Use it inside a ``Database.transaction()``: ``MigrationStore(tx)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.account_migration_tables import (
    AccountMigration,
    MigrationStatus,
    PurchasePolicy,
    map_account_migration_entities,
)
from gateway.storage.store import Store

map_account_migration_entities()


class MigrationStore:
    def __init__(self, tx: Store) -> None:
        self.session = tx.session

    # -- migrations ----------------------------------------------------------------------------------------
    def migration(self, org_id: str, migration_id: str) -> AccountMigration | None:
        """A migration that ``org_id`` takes part in (as source or target); None for anyone else's."""
        found = self.session.get(AccountMigration, migration_id)
        if found is None or not found.involves(org_id):
            return None
        return found

    def migration_by_id(self, migration_id: str) -> AccountMigration | None:
        """Unscoped, for support (the CLI) and for the person, whose organization is checked by the caller."""
        return self.session.get(AccountMigration, migration_id)

    def open_migration(self, target_org_id: str, email: str) -> AccountMigration | None:
        return self.session.scalars(
            sa.select(AccountMigration).where(
                AccountMigration.target_org_id == target_org_id,
                AccountMigration.email == email,
                AccountMigration.status == MigrationStatus.REQUESTED,
            )
        ).one_or_none()

    def migrations(self, org_id: str, *, status: MigrationStatus | None = None) -> Sequence[AccountMigration]:
        """Migrations into and out of ``org_id``, newest first."""
        stmt = sa.select(AccountMigration).where(
            sa.or_(AccountMigration.source_org_id == org_id, AccountMigration.target_org_id == org_id)
        )
        if status is not None:
            stmt = stmt.where(AccountMigration.status == status)
        return self.session.scalars(
            stmt.order_by(AccountMigration.requested_at.desc(), AccountMigration.id)
        ).all()

    def open_migrations_of_member(self, org_id: str, member_id: str) -> Sequence[AccountMigration]:
        return self.session.scalars(
            sa.select(AccountMigration).where(
                AccountMigration.source_org_id == org_id,
                AccountMigration.source_member_id == member_id,
                AccountMigration.status == MigrationStatus.REQUESTED,
            )
        ).all()

    # -- purchase policy -----------------------------------------------------------------------------------
    def purchase_policy(self, org_id: str) -> PurchasePolicy | None:
        return self.session.get(PurchasePolicy, org_id)

    def purchased_by_member(self, org_id: str, member_id: str, since: datetime, until: datetime) -> int:
        """Credits ``member_id`` bought for the organization within ``[since, until)``."""
        return int(
            self.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(m.CreditEntry.credits), 0)).where(
                    m.CreditEntry.org_id == org_id,
                    m.CreditEntry.member_id == member_id,
                    m.CreditEntry.kind == m.CreditKind.PURCHASE,
                    m.CreditEntry.created_at >= since,
                    m.CreditEntry.created_at < until,
                )
            )
            or 0
        )

    def purchases_by_member(
        self, org_id: str, since: datetime | None, until: datetime | None
    ) -> list[tuple[str, str, int]]:
        stmt = (
            sa.select(m.CreditEntry.member_id, m.Member.email, sa.func.sum(m.CreditEntry.credits))
            .join(m.Member, m.Member.id == m.CreditEntry.member_id)
            .where(m.CreditEntry.org_id == org_id, m.CreditEntry.kind == m.CreditKind.PURCHASE)
        )
        if since is not None:
            stmt = stmt.where(m.CreditEntry.created_at >= since)
        if until is not None:
            stmt = stmt.where(m.CreditEntry.created_at < until)
        stmt = stmt.group_by(m.CreditEntry.member_id, m.Member.email)
        return sorted(((i, e, int(c)) for i, e, c in self.session.execute(stmt)), key=lambda r: (-r[2], r[1]))

    def ledger(self, org_id: str, since: datetime | None, until: datetime | None) -> Sequence[m.CreditEntry]:
        """Every ledger line within ``[since, until)``, oldest first."""
        stmt = sa.select(m.CreditEntry).where(m.CreditEntry.org_id == org_id)
        if since is not None:
            stmt = stmt.where(m.CreditEntry.created_at >= since)
        if until is not None:
            stmt = stmt.where(m.CreditEntry.created_at < until)
        return self.session.scalars(stmt.order_by(m.CreditEntry.created_at, m.CreditEntry.id)).all()

    def ledger_span(self, org_id: str) -> tuple[datetime, datetime] | None:
        """The times of the first and the last ledger line, or None for an empty ledger."""
        first, last = self.session.execute(
            sa.select(sa.func.min(m.CreditEntry.created_at), sa.func.max(m.CreditEntry.created_at)).where(
                m.CreditEntry.org_id == org_id
            )
        ).one()
        if first is None or last is None:
            return None
        return _utc(first), _utc(last)


def _utc(value: datetime) -> datetime:
    """Aggregates bypass the column type, so SQLite hands back naive (UTC) values or strings."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
