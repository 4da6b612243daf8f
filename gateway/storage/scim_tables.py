"""Tables of SCIM provisioning: IdP groups and their members, group -> role mappings, and users' email
addresses (kept as rows so that filters on them are indexed SQL on SQLite and PostgreSQL alike).

They share ``metadata`` and ``mapper_registry`` with the organization core, so ``create_all`` and Alembic see
them. Importing this module only defines tables; ``map_scim_entities()`` maps the domain classes (once).
Indexes are added to the core ``members`` table for SCIM lookups (``userName`` compared case-insensitively,
``externalId``: migration 0002; the enterprise ``employeeNumber`` and ``manager.value``: migration 0015).
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.domain import groups as g
from gateway.domain import model as m
from gateway.storage.scim_enterprise import LOOKUP_INDEXES, enterprise_text
from gateway.storage.tables import TS, mapper_registry, members, metadata


def _org() -> sa.Column:
    return sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )


def _member() -> sa.Column:
    return sa.Column(
        "member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False
    )


scim_groups = sa.Table(
    "scim_groups",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _org(),
    sa.Column("display_name", sa.String(256), nullable=False),
    sa.Column("external_id", sa.String(320)),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    # SCIM lists page in (created_at, id) order (migration 0008).
    sa.Index("ix_scim_groups_org_created", "org_id", "created_at", "id"),
)
# Group names are unique per organization, ignoring case (IdPs expect 409 uniqueness on a duplicate push).
sa.Index(
    "uq_scim_groups_org_display_name",
    scim_groups.c.org_id,
    sa.func.lower(scim_groups.c.display_name),
    unique=True,
)
sa.Index("ix_scim_groups_org_external_id", scim_groups.c.org_id, scim_groups.c.external_id)

scim_group_members = sa.Table(
    "scim_group_members",
    metadata,
    sa.Column(
        "group_id",
        sa.String(36),
        sa.ForeignKey("scim_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    _org(),
    sa.Column("display", sa.String(256)),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_scim_group_members_org_member", "org_id", "member_id"),
)

scim_group_role_mappings = sa.Table(
    "scim_group_role_mappings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _org(),
    sa.Column("group_name", sa.String(256), nullable=False),
    sa.Column(
        "role",
        sa.Enum(
            m.Role,
            native_enum=False,
            create_constraint=False,
            length=20,
            values_callable=lambda e: [x.value for x in e],
        ),
        nullable=False,
    ),
    sa.Column("created_at", TS, nullable=False),
)
sa.Index(
    "uq_scim_group_role_mappings_org_group_name",
    scim_group_role_mappings.c.org_id,
    sa.func.lower(scim_group_role_mappings.c.group_name),
    unique=True,
)

scim_user_emails = sa.Table(
    "scim_user_emails",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _org(),
    _member(),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("type", sa.String(64)),
    sa.Column("primary", sa.Boolean, nullable=False, default=False),
    sa.Column("position", sa.Integer, nullable=False),
    # Two equality columns, so SQLite picks it for the per-member DELETE (org_id = ? AND member_id = ?) even
    # before ANALYZE, over (org_id, lower(value)) where org_id alone matches the whole organization; led by
    # member_id, it also serves the foreign key's cascade (migration 0008).
    sa.Index("ix_scim_user_emails_member_org", "member_id", "org_id"),
)
sa.Index("ix_scim_user_emails_org_value", scim_user_emails.c.org_id, sa.func.lower(scim_user_emails.c.value))

# SCIM lookups on the core members table: `userName eq "..."` (case-insensitive) and `externalId eq "..."`.
sa.Index("ix_members_org_user_name_ci", members.c.org_id, sa.func.lower(members.c.user_name))
# userName is unique among an organization's live users (RFC 7643 "uniqueness": "server"), held by the database
# so that two concurrent creates cannot both pass a check.
sa.Index(
    "uq_members_org_user_name_live",
    members.c.org_id,
    sa.func.lower(members.c.user_name),
    unique=True,
    sqlite_where=sa.text("status != 'removed'"),
    postgresql_where=sa.text("status != 'removed'"),
)
sa.Index("ix_members_org_external_id", members.c.org_id, members.c.external_id)
# `<enterprise URN>:employeeNumber eq "..."` and `...:manager.value eq "..."`: Okta and Entra ID look users up by
# employeeNumber; the index holds the very expression the filter compiler emits (migration 0015).
for _name, _key in LOOKUP_INDEXES.items():
    sa.Index(_name, members.c.org_id, sa.func.lower(enterprise_text(members.c.attributes, _key)))
# `userName sw "..."` is a range on lower(user_name). PostgreSQL compares it with the pattern operators
# (~>=~, ~<~: byte order, where every string with a prefix sorts between the prefix and its successor), which
# this index serves (migration 0008). On SQLite the BINARY collation is byte order already and the index
# above serves it.
sa.Index(
    "ix_members_org_user_name_prefix",
    members.c.org_id,
    sa.func.lower(members.c.user_name).label("user_name_prefix"),
    postgresql_ops={"user_name_prefix": "text_pattern_ops"},
).ddl_if(dialect="postgresql")

_MAPPINGS = [
    (g.Group, scim_groups),
    (g.GroupMember, scim_group_members),
    (g.GroupRoleMapping, scim_group_role_mappings),
    (g.UserEmail, scim_user_emails),
]


def map_scim_entities() -> None:
    """Map the provisioning entities onto their tables, once per process."""
    if getattr(map_scim_entities, "done", False):
        return
    for cls, table in _MAPPINGS:
        mapper_registry.map_imperatively(cls, table)
    map_scim_entities.done = True  # type: ignore[attr-defined]
