"""Admin API keys follow the Admin who created them: the queries that find and revoke them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.store import Store


def revoke_keys_created_by(tx: Store, org_id: str, member_id: str, now: datetime) -> int:
    """Revoke the live admin keys ``member_id`` created (they were removed or suspended); how many."""
    result = tx.session.execute(
        sa.update(m.ApiKey)
        .where(
            m.ApiKey.org_id == org_id,
            m.ApiKey.kind == m.ApiKeyKind.ADMIN,
            m.ApiKey.created_by_member_id == member_id,
            m.ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


def creator_of(tx: Store, org_id: str, key_id: str) -> str | None:
    """The Admin behind an admin key, so a key made with that key is theirs too."""
    key = tx.get(m.ApiKey, org_id, key_id)
    return key.created_by_member_id if key is not None else None
