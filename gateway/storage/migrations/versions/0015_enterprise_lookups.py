"""Indexes for SCIM lookups by the enterprise employeeNumber and manager.value

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-06 18:30:00

Okta and Entra ID match users by ``employeeNumber`` (``filter=urn:...:enterprise:2.0:User:employeeNumber eq
"..."``), org-chart syncs by ``manager.value``. Both are kept in ``members.attributes`` (JSON); each index holds
``(org_id, lower(<text at the JSON path>))``, exactly the expression ``gateway.storage.scim_enterprise`` emits
for ``eq``, so the planner matches it (see tests/storage/test_query_plans.py). The SQL is written out here, per
dialect, so that this revision keeps building the same indexes whatever the code becomes.

``members`` is analyzed only when it holds rows: on PostgreSQL, statistics of an empty table make the plans
cached while it is small read it sequentially for good (see migration 0008).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None

_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_PATHS = {
    "ix_members_org_employee_number": ("employeeNumber",),
    "ix_members_org_manager": ("manager", "value"),
}


def _expression(dialect: str, path: tuple[str, ...]) -> str:
    keys = (_ENTERPRISE, *path)
    if dialect == "sqlite":
        return "json_extract(attributes, '$" + "".join(f'."{key}"' for key in keys) + "')"
    sql = "attributes"
    for key in keys[:-1]:
        sql = f"({sql} -> '{key}')"
    return f"{sql} ->> '{keys[-1]}'"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, path in _PATHS.items():
        op.execute(f"CREATE INDEX {name} ON members (org_id, lower({_expression(dialect, path)}))")
    if dialect == "sqlite" or op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT FROM members)").scalar():
        op.execute("ANALYZE members")


def downgrade() -> None:
    for name in _PATHS:
        op.drop_index(name, table_name="members")
