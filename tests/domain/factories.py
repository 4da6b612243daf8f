"""Plain domain values for the unit tests: no app, no database, times passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from gateway.domain import model as m

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_ids = count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def org(mode: m.MembershipMode = m.MembershipMode.INVITATION, **kwargs: object) -> m.Organization:
    return m.Organization(id=_id("org"), slug="acme", name="Acme", mode=mode, created_at=NOW, **kwargs)  # type: ignore[arg-type]


def member(
    email: str = "ada@acme.test",
    *,
    role: m.Role = m.Role.MEMBER,
    status: m.MemberStatus = m.MemberStatus.ACTIVE,
    removed_by: m.RemovalSource | None = None,
    org_id: str = "org-x",
) -> m.Member:
    return m.Member(
        id=_id("member"), org_id=org_id, email=email, role=role, status=status, joined_via=m.JoinPath.ADMIN,
        created_at=NOW, updated_at=NOW, removed_by=removed_by,
        removed_at=NOW if status is m.MemberStatus.REMOVED else None,
    )  # fmt: skip


def invitation(
    email: str = "ada@acme.test",
    *,
    sent_at: datetime = NOW,
    status: m.InvitationStatus = m.InvitationStatus.PENDING,
    org_id: str = "org-x",
) -> m.Invitation:
    return m.Invitation(
        id=_id("inv"), org_id=org_id, email=email, role=m.Role.MEMBER, token_hash="h" * 64, status=status,
        sent_at=sent_at, expires_at=sent_at + m.INVITATION_LIFETIME, created_at=sent_at,
    )  # fmt: skip


def connection(*, enabled: bool = True, suspended: bool = False, org_id: str = "org-x") -> m.SsoConnection:
    return m.SsoConnection(
        id=_id("conn"), org_id=org_id, slug=_id("acme-okta"), protocol=m.ConnectionProtocol.SAML, name="Okta",
        created_at=NOW, enabled=enabled, suspended=suspended,
    )  # fmt: skip


def scim_token(
    *, suspended: bool = False, revoked_at: datetime | None = None, org_id: str = "org-x"
) -> m.ScimToken:
    return m.ScimToken(
        id=_id("scim"), org_id=org_id, prefix="scim_abcdef", token_hash=_id("hash"), name="Okta",
        created_at=NOW, suspended=suspended, revoked_at=revoked_at,
    )  # fmt: skip


def session(*, created_at: datetime = NOW, lifetime: timedelta = timedelta(hours=24)) -> m.WebSession:
    return m.WebSession(
        id=_id("sess"), token_hash=_id("hash"), created_at=created_at, last_seen_at=created_at,
        expires_at=created_at + lifetime,
    )  # fmt: skip
