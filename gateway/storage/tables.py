"""SQLAlchemy tables for the domain entities, mapped imperatively onto the domain dataclasses.

Uniqueness rules live here as constraints, so they hold even against a race between two processes:
one member per email per organization, one live (not removed) account per email across all organizations,
one verified owner per email domain, one Default Project per organization, unique token hashes.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry

from gateway.domain import model as m

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
mapper_registry = registry(metadata=metadata)


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [x.value for x in e],
    )


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _org() -> sa.Column:
    return sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )


class UtcDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite would otherwise hand back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; pass timezone-aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mode", _enum(m.MembershipMode), nullable=False),
    sa.Column("multi_project", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS),
)

domains = sa.Table(
    "domains",
    metadata,
    _id(),
    _org(),
    sa.Column("domain", sa.String(253), nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    # A pending claim's random token (the DNS TXT record must carry it) and when the claim stops counting.
    sa.Column("token", sa.String(64)),
    sa.Column("expires_at", TS),
    sa.Column("verified_at", TS),
    # "dns" (proven by the TXT record) or "operator" (recorded on the server by the platform operator).
    sa.Column("verified_via", sa.String(16)),
    sa.Column("checked_at", TS),
    sa.Column("check_error", sa.String(300)),
    # One claim per organization and domain; many organizations may claim a domain, one may hold it verified.
    sa.UniqueConstraint("org_id", "domain"),
    sa.Index(
        "uq_domains_verified_domain",
        "domain",
        unique=True,
        sqlite_where=sa.text("verified"),
        postgresql_where=sa.text("verified"),
    ),
)

members = sa.Table(
    "members",
    metadata,
    _id(),
    _org(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", _enum(m.Role), nullable=False),
    sa.Column("status", _enum(m.MemberStatus), nullable=False),
    sa.Column("joined_via", _enum(m.JoinPath), nullable=False),
    sa.Column("display_name", sa.String(200)),
    sa.Column("given_name", sa.String(200)),
    sa.Column("family_name", sa.String(200)),
    sa.Column("user_name", sa.String(320)),
    sa.Column("external_id", sa.String(320)),
    sa.Column("scim_linked", sa.Boolean, nullable=False, default=False),
    sa.Column("removed_at", TS),
    sa.Column("removed_by", _enum(m.RemovalSource)),
    sa.Column("suspended_at", TS),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    # Protocol attributes the core does not interpret (e.g. SCIM phoneNumbers, the enterprise extension).
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("org_id", "email"),
    sa.Index("ix_members_org_id_status", "org_id", "status"),
    # The last-Admin check counts from this index alone (migration 0008).
    sa.Index("ix_members_org_role_status", "org_id", "role", "status"),
    # SCIM lists page in (created_at, id) order; with status in the index a page's ids (and the count) come
    # from an index-only scan (migration 0008).
    sa.Index("ix_members_org_created", "org_id", "created_at", "id", "status"),
    # Every account belongs to one organization: at most one live (not removed) member per email.
    sa.Index(
        "uq_members_live_email",
        "email",
        unique=True,
        sqlite_where=sa.text("status != 'removed'"),
        postgresql_where=sa.text("status != 'removed'"),
    ),
)

blocked_emails = sa.Table(
    "blocked_emails",
    metadata,
    _id(),
    _org(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("org_id", "email"),
)

projects = sa.Table(
    "projects",
    metadata,
    _id(),
    _org(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("org_id", "name"),
    sa.Index(
        "uq_projects_default",
        "org_id",
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    ),
)

project_memberships = sa.Table(
    "project_memberships",
    metadata,
    _id(),
    _org(),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("project_id", "member_id"),
    sa.Index("ix_project_memberships_member", "org_id", "member_id"),
)

resources = sa.Table(
    "resources",
    metadata,
    _id(),
    _org(),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", _enum(m.ResourceKind), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_by", sa.String(36), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_resources_project", "org_id", "project_id"),
    sa.Index("ix_resources_creator", "org_id", "created_by"),
)

credit_entries = sa.Table(
    "credit_entries",
    metadata,
    _id(),
    _org(),
    sa.Column("kind", _enum(m.CreditKind), nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id"), nullable=False),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="SET NULL")),
    sa.Column("description", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", TS, nullable=False),
    sa.CheckConstraint("credits > 0", name="positive_credits"),
    sa.Index("ix_credit_entries_org_at", "org_id", "created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    _org(),
    sa.Column("kind", _enum(m.ApiKeyKind), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="CASCADE")),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE")),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Column("last_used_at", TS),
    sa.Column("created_by_member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="SET NULL")),
    sa.Index("ix_api_keys_member", "org_id", "member_id"),
    sa.Index("ix_api_keys_created_by", "org_id", "created_by_member_id"),
)

scim_tokens = sa.Table(
    "scim_tokens",
    metadata,
    _id(),
    _org(),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Column("suspended", sa.Boolean, nullable=False, default=False),
    sa.Column("last_used_at", TS),
)

sso_connections = sa.Table(
    "sso_connections",
    metadata,
    _id(),
    _org(),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("protocol", _enum(m.ConnectionProtocol), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("suspended", sa.Boolean, nullable=False, default=False),
    sa.Column("preset", sa.String(32), nullable=False, default="generic"),
    sa.Column("config", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", TS, nullable=False),
    # Drawn again by a trigger on every INSERT and UPDATE of the row (``CONNECTION_REVISION_DDL``).
    sa.Column(
        "revision", sa.String(32), nullable=False, server_default="", server_onupdate=sa.FetchedValue()
    ),
)

CONNECTION_REVISION_DDL = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS sso_connections_revision_ai AFTER INSERT ON sso_connections BEGIN "
        "UPDATE sso_connections SET revision = lower(hex(randomblob(16))) WHERE id = new.id; END",
        "CREATE TRIGGER IF NOT EXISTS sso_connections_revision_au AFTER UPDATE ON sso_connections "
        "WHEN new.revision IS old.revision BEGIN "
        "UPDATE sso_connections SET revision = lower(hex(randomblob(16))) WHERE id = new.id; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION sso_connections_revision() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.revision := md5(random()::text || clock_timestamp()::text); RETURN NEW; END $$",
        "CREATE TRIGGER sso_connections_revision BEFORE INSERT OR UPDATE ON sso_connections "
        "FOR EACH ROW EXECUTE FUNCTION sso_connections_revision()",
    ],
}
"""A connection's ``revision`` is a random value drawn again by the database on every write of its row,
whatever statement makes it: a process that keeps a copy of a connection (the SAML ACS does) checks the copy's
revision against the row's in a statement it sends anyway, and a copy whose revision still matches is what is
stored. Random, not a counter, so a database restored from a backup cannot bring back a revision a copy holds
with other contents."""
for _dialect, _statements in CONNECTION_REVISION_DDL.items():
    for _statement in _statements:
        sa.event.listen(sso_connections, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))
sa.event.listen(
    sso_connections,
    "before_drop",
    sa.DDL("DROP FUNCTION IF EXISTS sso_connections_revision() CASCADE").execute_if(dialect="postgresql"),
)

invitations = sa.Table(
    "invitations",
    metadata,
    _id(),
    _org(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", _enum(m.Role), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("status", _enum(m.InvitationStatus), nullable=False),
    sa.Column("sent_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("invited_by", sa.String(200)),
    sa.Column("accepted_at", TS),
    sa.Column("accepted_member_id", sa.String(36), sa.ForeignKey("members.id")),
    sa.Column("revoked_at", TS),
    sa.Column("send_count", sa.Integer, nullable=False, default=1),
    sa.Index("ix_invitations_org_status", "org_id", "status"),
    sa.Index("ix_invitations_org_created", "org_id", "created_at", "id"),
    # At most one pending invitation per email per organization.
    sa.Index(
        "uq_invitations_pending_email",
        "org_id",
        "email",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    _id(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE")),
    sa.Column("member_id", sa.String(36), sa.ForeignKey("members.id", ondelete="CASCADE")),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.Column("data", sa.JSON, nullable=False, default=dict),
    sa.Index("ix_web_sessions_member", "org_id", "member_id"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    _org(),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor_type", _enum(m.ActorType), nullable=False),
    sa.Column("actor_id", sa.String(64)),
    sa.Column("actor_label", sa.String(320)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(32)),
    sa.Column("target_id", sa.String(64)),
    sa.Column("ip", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("details", sa.JSON, nullable=False, default=dict),
    sa.Index("ix_audit_events_org_at", "org_id", "at", "id"),
)

_MAPPINGS = [
    (m.Organization, organizations),
    (m.Domain, domains),
    (m.Member, members),
    (m.BlockedEmail, blocked_emails),
    (m.Project, projects),
    (m.ProjectMembership, project_memberships),
    (m.Resource, resources),
    (m.CreditEntry, credit_entries),
    (m.ApiKey, api_keys),
    (m.ScimToken, scim_tokens),
    (m.SsoConnection, sso_connections),
    (m.Invitation, invitations),
    (m.WebSession, web_sessions),
    (m.AuditEvent, audit_events),
]


def map_entities() -> None:
    """Map the domain dataclasses onto their tables, once per process, then load every adapter's tables
    (the sibling modules named ``*_tables``), so ``metadata`` always describes the whole schema."""
    if getattr(map_entities, "done", False):
        return
    for cls, table in _MAPPINGS:
        mapper_registry.map_imperatively(cls, table)
    map_entities.done = True  # type: ignore[attr-defined]
    package = __name__.rsplit(".", 1)[0]
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.endswith("_tables"):
            module = importlib.import_module(f"{package}.{info.name}")
            mapper = getattr(module, f"map_{info.name.removesuffix('_tables')}_entities", None)
            if mapper is not None:
                mapper()
