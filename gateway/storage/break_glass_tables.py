"""One-time sign-in links for Admins locked out by a broken identity provider (``gateway admin break-glass``).

Only the SHA-256 of a link's token is stored; a link is single use (``used_at``) and short-lived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.tables import TS, mapper_registry, metadata


@dataclass(eq=False)
class BreakGlassLink:
    id: str
    org_id: str
    member_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    issued_by: str | None = None
    used_at: datetime | None = None


break_glass_links = sa.Table(
    "break_glass_links",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("issued_by", sa.String(200)),
    sa.Column("used_at", TS),
    sa.Index("ix_break_glass_links_member", "org_id", "member_id"),
)


def map_break_glass_entities() -> None:
    if getattr(map_break_glass_entities, "done", False):
        return
    mapper_registry.map_imperatively(BreakGlassLink, break_glass_links)
    map_break_glass_entities.done = True  # type: ignore[attr-defined]


map_break_glass_entities()
