"""Entities of the organization core.

Plain dataclasses with no framework imports: storage maps them imperatively, so the services work on these
very objects while the domain stays testable without a database. Every tenant-owned entity carries ``org_id``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

INVITATION_LIFETIME = timedelta(days=7)


class MembershipMode(enum.StrEnum):
    SSO = "sso"
    INVITATION = "invitation"


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class MemberStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class RemovalSource(enum.StrEnum):
    """Who removed a member decides whether just-in-time sign-in may bring them back (rule 6)."""

    ADMIN = "admin"
    SCIM = "scim"
    MIGRATION = "migration"
    """The account moved to another organization (rule 12)."""


class JoinPath(enum.StrEnum):
    SCIM = "scim"
    JIT = "jit"
    INVITATION = "invitation"
    ADMIN = "admin"
    MIGRATION = "migration"


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ConnectionProtocol(enum.StrEnum):
    SAML = "saml"
    OIDC = "oidc"


class ApiKeyKind(enum.StrEnum):
    ADMIN = "admin"
    PROJECT = "project"


class ResourceKind(enum.StrEnum):
    MODEL = "model"
    ENDPOINT = "endpoint"
    FILE = "file"


class CreditKind(enum.StrEnum):
    PURCHASE = "purchase"
    USAGE = "usage"


class ActorType(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    SCIM_TOKEN = "scim_token"
    API_KEY = "api_key"
    CLI = "cli"
    SYSTEM = "system"


@dataclass(eq=False)
class Organization:
    id: str
    slug: str
    name: str
    mode: MembershipMode
    created_at: datetime
    multi_project: bool = False
    updated_at: datetime | None = None


class DomainStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    EXPIRED = "expired"


@dataclass(eq=False)
class Domain:
    """An organization's claim on an email domain (rule 11). A claim is *pending* until a DNS TXT record with
    its ``token`` proves it (or the platform operator records it by hand); only a verified claim routes
    ``/login``, allows just-in-time creation and keeps the domain's addresses out of every other organization.
    A pending claim stops counting at ``expires_at``. Several organizations may hold pending claims on one
    domain; at most one holds it verified."""

    id: str
    org_id: str
    domain: str
    verified: bool
    created_at: datetime
    token: str | None = None
    expires_at: datetime | None = None
    verified_at: datetime | None = None
    verified_via: str | None = None
    checked_at: datetime | None = None
    check_error: str | None = None

    def status_at(self, now: datetime) -> DomainStatus:
        if self.verified:
            return DomainStatus.VERIFIED
        if self.expires_at is not None and self.expires_at <= now:
            return DomainStatus.EXPIRED
        return DomainStatus.PENDING


@dataclass(eq=False)
class Member:
    id: str
    org_id: str
    email: str
    role: Role
    status: MemberStatus
    joined_via: JoinPath
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    user_name: str | None = None
    external_id: str | None = None
    scim_linked: bool = False
    removed_at: datetime | None = None
    removed_by: RemovalSource | None = None
    suspended_at: datetime | None = None
    version: int = 1
    attributes: dict = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN and self.is_active


@dataclass(eq=False)
class BlockedEmail:
    """An email an Admin blocked so that just-in-time sign-in does not re-create it."""

    id: str
    org_id: str
    email: str
    created_at: datetime
    created_by: str | None = None


@dataclass(eq=False)
class Project:
    id: str
    org_id: str
    name: str
    is_default: bool
    created_at: datetime


@dataclass(eq=False)
class ProjectMembership:
    id: str
    org_id: str
    project_id: str
    member_id: str
    created_at: datetime


@dataclass(eq=False)
class Resource:
    """Something a member built in a project (a model, an endpoint, a file). It outlives its creator's access."""

    id: str
    org_id: str
    project_id: str
    kind: ResourceKind
    name: str
    created_by: str
    created_at: datetime


@dataclass(eq=False)
class CreditEntry:
    """One line of the organization's single credit ledger (rule 9): a purchase adds credits, usage spends them.

    ``member_id`` and ``project_id`` say who bought or spent and where, so usage rolls up by project and member;
    the balance and the bill are the organization's, never a member's."""

    id: str
    org_id: str
    kind: CreditKind
    credits: int
    member_id: str
    created_at: datetime
    project_id: str | None = None
    description: str = ""


@dataclass(eq=False)
class ApiKey:
    id: str
    org_id: str
    kind: ApiKeyKind
    prefix: str
    token_hash: str
    name: str
    created_at: datetime
    project_id: str | None = None
    member_id: str | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    # The Admin who created an admin key (directly, or through another admin key they created); the key is
    # revoked when that Admin is removed or suspended. ``None`` for keys the platform operator made (CLI).
    created_by_member_id: str | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


@dataclass(eq=False)
class ScimToken:
    id: str
    org_id: str
    prefix: str
    token_hash: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    suspended: bool = False
    last_used_at: datetime | None = None

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.suspended


@dataclass(eq=False)
class SsoConnection:
    """A SAML or OIDC connection to the organization's identity provider.

    ``enabled`` is the Admin's choice; ``suspended`` is set while the organization is in invitation mode, so
    switching back to SSO restores exactly what was there.
    """

    id: str
    org_id: str
    slug: str
    protocol: ConnectionProtocol
    name: str
    created_at: datetime
    enabled: bool = True
    suspended: bool = False
    preset: str = "generic"
    config: dict = field(default_factory=dict)
    revision: str = ""
    """Changes with every stored change of the connection (the storage draws it): a copy kept by a process is
    current while its revision is the stored one."""

    @property
    def is_usable(self) -> bool:
        return self.enabled and not self.suspended


@dataclass(eq=False)
class Invitation:
    id: str
    org_id: str
    email: str
    role: Role
    token_hash: str
    status: InvitationStatus
    sent_at: datetime
    expires_at: datetime
    created_at: datetime
    invited_by: str | None = None
    accepted_at: datetime | None = None
    accepted_member_id: str | None = None
    revoked_at: datetime | None = None
    send_count: int = 1

    def status_at(self, now: datetime) -> InvitationStatus:
        """The stored status, with a pending invitation past its expiry reported as expired."""
        if self.status is InvitationStatus.PENDING and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return self.status


@dataclass(eq=False)
class WebSession:
    """A server-side sign-in session; the cookie holds only a random id whose hash is stored here."""

    id: str
    token_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    org_id: str | None = None
    member_id: str | None = None
    revoked_at: datetime | None = None
    data: dict = field(default_factory=dict)

    def is_valid_at(self, now: datetime, idle_timeout: timedelta) -> bool:
        return self.revoked_at is None and now < self.expires_at and now < self.last_seen_at + idle_timeout


@dataclass(eq=False)
class AuditEvent:
    """One membership-relevant change. ``id`` is a database sequence, so events sort in the order they happened."""

    org_id: str
    at: datetime
    actor_type: ActorType
    action: str
    actor_id: str | None = None
    actor_label: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    ip: str | None = None
    request_id: str | None = None
    details: dict = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who performs an action, for authorization and for the audit trail."""

    type: ActorType
    id: str | None = None
    label: str | None = None
    ip: str | None = None
    request_id: str | None = None
    member_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls(ActorType.CLI, label="gateway CLI")

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorType.SYSTEM, label="system")
