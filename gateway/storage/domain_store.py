"""Storage for email-domain claims (rule 11). Every method is scoped by organization, except those whose key
*is* the domain: which organization holds a domain verified, and the claims to release when one proves it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage import hot_statements as hot
from gateway.storage.store import Store


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DomainStore:
    def __init__(self, tx: Store) -> None:
        self.tx = tx
        self.session = tx.session

    def claim(self, org_id: str, domain_id: str, *, lock: bool = False) -> m.Domain | None:
        stmt = sa.select(m.Domain).where(m.Domain.org_id == org_id, m.Domain.id == domain_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def claim_by_name(self, org_id: str, name: str) -> m.Domain | None:
        return self.session.scalars(
            sa.select(m.Domain).where(m.Domain.org_id == org_id, m.Domain.domain == name)
        ).one_or_none()

    def lock_claims(self, name: str) -> Sequence[m.Domain]:
        """Every organization's claim on ``name``, locked in id order (a consistent order, so that two
        transactions proving one domain queue instead of deadlocking)."""
        return self.session.scalars(
            sa.select(m.Domain).where(m.Domain.domain == name).order_by(m.Domain.id).with_for_update()
        ).all()

    def foreign_verified(self, org_id: str, names: Iterable[str]) -> str | None:
        """One of ``names`` that an organization other than ``org_id`` holds verified, if any: one query
        answered by the partial unique index on verified domains."""
        wanted = sorted(set(names))
        if not wanted:
            return None
        return self.session.scalar(hot.foreign_verified_domain(), {"names": wanted, "org_id": org_id})

    def unverified_claims_elsewhere(self, org_id: str, name: str) -> Sequence[m.Domain]:
        return self.session.scalars(
            sa.select(m.Domain)
            .where(m.Domain.domain == name, m.Domain.org_id != org_id, m.Domain.verified.is_(False))
            .order_by(m.Domain.created_at)
        ).all()

    def accounts_elsewhere(self, org_id: str, name: str, *, limit: int = 500) -> Sequence[m.Member]:
        """Live (not removed) members of *other* organizations whose address is in ``name``: the accounts
        that may migrate to the organization that proved the domain. Emails are stored lower-cased."""
        return self.session.scalars(
            sa.select(m.Member)
            .where(
                m.Member.email.like("%@" + _escape_like(name), escape="\\"),
                m.Member.org_id != org_id,
                m.Member.status != m.MemberStatus.REMOVED,
            )
            .order_by(m.Member.org_id, m.Member.email)
            .limit(limit)
        ).all()
