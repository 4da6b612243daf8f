"""Domain ownership: pending claims proven by a DNS TXT record, one verified owner per domain

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:40:00

Several organizations may now hold a (pending) claim on one domain, so the global uniqueness of ``domain``
becomes one claim per organization and domain, plus a partial unique index that lets at most one claim per
domain be verified. Existing verified domains were recorded by the platform operator (``gateway org create
--domain``) or by tests, so they stay verified, marked as recorded by the operator.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.storage.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = gateway.storage.tables.UtcDateTime(timezone=True)
    with op.batch_alter_table("domains") as batch:
        batch.add_column(sa.Column("token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("expires_at", ts, nullable=True))
        batch.add_column(sa.Column("verified_at", ts, nullable=True))
        batch.add_column(sa.Column("verified_via", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("checked_at", ts, nullable=True))
        batch.add_column(sa.Column("check_error", sa.String(length=300), nullable=True))
        batch.drop_constraint("uq_domains_domain", type_="unique")
        batch.create_unique_constraint(op.f("uq_domains_org_id_domain"), ["org_id", "domain"])
    op.execute(
        sa.text("UPDATE domains SET verified_via = 'operator', verified_at = created_at WHERE verified")
    )
    op.create_index(
        "uq_domains_verified_domain",
        "domains",
        ["domain"],
        unique=True,
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    )


def downgrade() -> None:
    op.drop_index("uq_domains_verified_domain", table_name="domains")
    # Only one row per domain can survive the old constraint: the verified claim, else the oldest (then the
    # smallest id).
    op.execute(
        sa.text(
            "DELETE FROM domains WHERE id IN (SELECT d.id FROM domains d WHERE EXISTS ("
            "SELECT 1 FROM domains o WHERE o.domain = d.domain AND o.id != d.id AND ("
            "(o.verified AND NOT d.verified) OR (o.verified = d.verified AND (o.created_at < d.created_at "
            "OR (o.created_at = d.created_at AND o.id < d.id))))))"
        )
    )
    with op.batch_alter_table("domains") as batch:
        batch.drop_constraint("uq_domains_org_id_domain", type_="unique")
        batch.create_unique_constraint(op.f("uq_domains_domain"), ["domain"])
        for column in ("check_error", "checked_at", "verified_via", "verified_at", "expires_at", "token"):
            batch.drop_column(column)
