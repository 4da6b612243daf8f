"""The SCIM request log: one row per SCIM request the gateway answered, refused ones included, so an Admin can
see why the identity provider reports errors. Written by one Core INSERT after the response is computed;
old rows are purged by the outbox worker (``GATEWAY_SCIM_LOG_RETENTION_DAYS``).

``migration_email`` is set only on a push refused because the address's account belongs to another
organization (``account_in_other_organization``): the address the organization sent, which its Admin may ask
to migrate. It is the organization's own request, so it is theirs to see; nothing about the other organization
is stored."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import TS, metadata

scim_request_log = sa.Table(
    "scim_request_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("scim_type", sa.String(40)),
    sa.Column("detail", sa.String(500)),
    sa.Column("token_prefix", sa.String(20)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("migration_email", sa.String(320)),
    sa.Index("ix_scim_request_log_org_at", "org_id", "at"),
    sa.Index("ix_scim_request_log_at", "at"),
)
