"""Tables of the SAML adapter's shared state: remembered AuthnRequest ids and the assertion-ID replay cache.

Both live in the database (not in process memory) so every gateway process behind a load balancer sees the
same requests and refuses the same replays. Rows expire; ``SamlStore.purge_expired`` deletes old ones. They
share ``metadata`` and ``mapper_registry`` with the organization core, so migrations and ``create_all`` see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.tables import TS, mapper_registry, metadata


@dataclass(eq=False)
class SamlRequest:
    """An AuthnRequest or LogoutRequest the gateway sent; the IdP's answer must name it in ``InResponseTo``."""

    id: str
    org_id: str
    connection_id: str
    kind: str
    created_at: datetime
    expires_at: datetime
    # SHA-256 of the random value in the binding cookie of the browser that started the sign-in (AuthnRequests
    # only): the ACS accepts the answer only from that browser, so a response cannot be replayed into another.
    browser_hash: str | None = None


@dataclass(eq=False)
class SamlAssertionSeen:
    """An assertion ID already used to sign in; kept until the assertion could no longer be valid anyway."""

    connection_id: str
    assertion_id: str
    org_id: str
    seen_at: datetime
    expires_at: datetime


saml_requests = sa.Table(
    "saml_requests",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "connection_id",
        sa.String(36),
        sa.ForeignKey("sso_connections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("browser_hash", sa.String(64), nullable=True),
    sa.Index("ix_saml_requests_expires_at", "expires_at"),
)

saml_assertions_seen = sa.Table(
    "saml_assertions_seen",
    metadata,
    sa.Column(
        "connection_id",
        sa.String(36),
        sa.ForeignKey("sso_connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("assertion_id", sa.String(256), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seen_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Index("ix_saml_assertions_seen_expires_at", "expires_at"),
)

_MAPPINGS = [(SamlRequest, saml_requests), (SamlAssertionSeen, saml_assertions_seen)]


def map_saml_entities() -> None:
    """Map the SAML state dataclasses onto their tables, once per process."""
    if getattr(map_saml_entities, "done", False):
        return
    for cls, table in _MAPPINGS:
        mapper_registry.map_imperatively(cls, table)
    map_saml_entities.done = True  # type: ignore[attr-defined]


map_saml_entities()
