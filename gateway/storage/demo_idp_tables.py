"""The built-in demo identity provider's one table: authorization codes already redeemed.

Codes themselves are sealed (encrypted and authenticated) and carry everything the token endpoint needs, so
nothing is stored when one is issued; what must be shared between gateway processes is only the fact that a
code was used. Each row lives until the code would have expired anyway. Same ``metadata`` and
``mapper_registry`` as :mod:`gateway.storage.tables`, so ``create_all`` and Alembic see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.store import Store
from gateway.storage.tables import TS, mapper_registry, metadata


@dataclass(eq=False)
class RedeemedCode:
    """An authorization code of the demo IdP that was exchanged; ``code_id`` is the code's random id."""

    code_id: str
    redeemed_at: datetime
    expires_at: datetime


demo_idp_redeemed_codes = sa.Table(
    "demo_idp_redeemed_codes",
    metadata,
    sa.Column("code_id", sa.String(64), primary_key=True),
    sa.Column("redeemed_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Index("ix_demo_idp_redeemed_codes_expires_at", "expires_at"),
)


def map_demo_idp_entities() -> None:
    """Map the demo IdP's entities onto their tables, once per process."""
    if getattr(map_demo_idp_entities, "done", False):
        return
    mapper_registry.map_imperatively(RedeemedCode, demo_idp_redeemed_codes)
    map_demo_idp_entities.done = True  # type: ignore[attr-defined]


class DemoIdpStore:
    """Storage contract of the demo IdP. Wraps the session of a ``Store`` so it joins that transaction."""

    def __init__(self, store: Store) -> None:
        map_demo_idp_entities()
        self.store = store

    def redeem(self, code_id: str, now: datetime, expires_at: datetime) -> None:
        """Record that the code was used; raises ``Conflict`` when it already was (the primary key decides,
        so of two concurrent exchanges of one code exactly one succeeds). Expired rows are purged first."""
        session = self.store.session
        session.execute(sa.delete(RedeemedCode).where(RedeemedCode.expires_at <= now))
        session.add(RedeemedCode(code_id=code_id, redeemed_at=now, expires_at=expires_at))
        self.store.flush("This authorization code was already used.")
