"""The OpenID Connect adapter's own table: pending sign-ins (``state``, ``nonce``, PKCE verifier, where to go
next), kept server-side so that any gateway process can finish a sign-in another one started.

Same ``metadata`` and ``mapper_registry`` as :mod:`gateway.storage.tables`, so ``create_all`` and Alembic see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.tables import TS, mapper_registry, metadata


@dataclass(eq=False)
class OidcLoginState:
    """One authorization request in flight. Single use: taking it deletes it.

    ``state_hash`` and ``browser_hash`` are SHA-256 hashes of the ``state`` parameter and of the random value
    in the browser's binding cookie; ``purpose`` is ``connection`` (an organization's IdP) or ``platform``
    (the platform login provider). ``data`` holds purpose-specific values (an encrypted invitation token).
    """

    id: str
    state_hash: str
    browser_hash: str
    purpose: str
    nonce: str
    code_verifier: str
    created_at: datetime
    expires_at: datetime
    connection_id: str | None = None
    org_id: str | None = None
    next_url: str | None = None
    data: dict = field(default_factory=dict)


oidc_login_states = sa.Table(
    "oidc_login_states",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("state_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("browser_hash", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE")),
    sa.Column("connection_id", sa.String(36), sa.ForeignKey("sso_connections.id", ondelete="CASCADE")),
    sa.Column("nonce", sa.String(128), nullable=False),
    sa.Column("code_verifier", sa.String(128), nullable=False),
    sa.Column("next_url", sa.String(2048)),
    sa.Column("data", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Index("ix_oidc_login_states_expires_at", "expires_at"),
)


def map_oidc_entities() -> None:
    """Map the OIDC adapter's entities onto their tables, once per process."""
    if getattr(map_oidc_entities, "done", False):
        return
    mapper_registry.map_imperatively(OidcLoginState, oidc_login_states)
    map_oidc_entities.done = True  # type: ignore[attr-defined]
