"""The storage contract the services use: a few documented methods, every one scoped by organization.

A ``Store`` wraps one SQLAlchemy session inside one transaction. The only lookups that are not scoped by
organization are those whose key *is* what identifies the organization (a token hash, an org slug, a verified
email domain) and the cross-organization email check that enforces "one account, one organization".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.domain import model as m
from gateway.domain.errors import Conflict

T = TypeVar("T")


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- generic -------------------------------------------------------------------------------------------
    def add(self, obj: object) -> None:
        self.session.add(obj)

    def delete(self, obj: object) -> None:
        self.session.delete(obj)

    def refresh(self, obj: object) -> None:
        """Re-read ``obj`` from the database (after taking a lock, to see what committed meanwhile)."""
        self.session.refresh(obj)

    def flush(self, conflict: str | None = None) -> None:
        """Write pending changes now; a uniqueness violation becomes ``Conflict(conflict)``.

        The failed write rolls the whole transaction back, so the caller lets the ``Conflict`` propagate.
        (A savepoint cannot narrow this: ``begin_nested`` itself flushes pending changes before the
        SAVEPOINT is taken, so the violating write would still happen outside it.)"""
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict(conflict or "This change conflicts with existing data.") from exc

    def get(self, cls: type[T], org_id: str, obj_id: str) -> T | None:
        obj = self.session.get(cls, obj_id)
        if obj is None or obj.org_id != org_id:  # type: ignore[attr-defined]
            return None
        return obj

    def _page(self, stmt: sa.Select, offset: int, limit: int) -> tuple[list[Any], int]:
        total = self.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
        rows = self.session.scalars(stmt.offset(offset).limit(limit)).all()
        return list(rows), int(total or 0)

    # -- organizations -------------------------------------------------------------------------------------
    def org(self, org_id: str, *, lock: bool = False) -> m.Organization | None:
        """The organization; ``lock`` takes a row lock so mode checks and writes happen atomically."""
        stmt = sa.select(m.Organization).where(m.Organization.id == org_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def org_by_slug(self, slug: str) -> m.Organization | None:
        return self.session.scalars(
            sa.select(m.Organization).where(m.Organization.slug == slug)
        ).one_or_none()

    def orgs(self) -> Sequence[m.Organization]:
        return self.session.scalars(sa.select(m.Organization).order_by(m.Organization.created_at)).all()

    def domains(self, org_id: str) -> Sequence[m.Domain]:
        return self.session.scalars(
            sa.select(m.Domain).where(m.Domain.org_id == org_id).order_by(m.Domain.domain)
        ).all()

    def domain(self, name: str) -> m.Domain | None:
        """The *verified* claim on this email domain, if any organization holds one (pending claims of
        several organizations may coexist; see ``gateway.storage.domain_store``)."""
        return self.session.scalars(
            sa.select(m.Domain).where(m.Domain.domain == name, m.Domain.verified.is_(True))
        ).one_or_none()

    # -- members -------------------------------------------------------------------------------------------
    def member_by_email(self, org_id: str, email: str) -> m.Member | None:
        return self.session.scalars(
            sa.select(m.Member).where(m.Member.org_id == org_id, m.Member.email == email)
        ).one_or_none()

    def live_account_elsewhere(self, org_id: str, email: str) -> m.Member | None:
        """A live (not removed) member with this email in *another* organization, if any."""
        return self.session.scalars(
            sa.select(m.Member).where(
                m.Member.email == email,
                m.Member.org_id != org_id,
                m.Member.status != m.MemberStatus.REMOVED,
            )
        ).first()

    def members(
        self,
        org_id: str,
        *,
        query: str | None = None,
        status: m.MemberStatus | None = None,
        role: m.Role | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.Member], int]:
        stmt = sa.select(m.Member).where(m.Member.org_id == org_id)
        if query:
            like = f"%{_escape_like(query.lower())}%"
            stmt = stmt.where(
                sa.or_(
                    m.Member.email.like(like, escape="\\"),
                    sa.func.lower(m.Member.display_name).like(like, escape="\\"),
                    sa.func.lower(m.Member.given_name + " " + m.Member.family_name).like(like, escape="\\"),
                )
            )
        if status is not None:
            stmt = stmt.where(m.Member.status == status)
        else:
            stmt = stmt.where(m.Member.status != m.MemberStatus.REMOVED)
        if role is not None:
            stmt = stmt.where(m.Member.role == role)
        return self._page(stmt.order_by(m.Member.email, m.Member.id), offset, limit)

    def count_members(self, org_id: str, *, live_only: bool = True) -> int:
        stmt = sa.select(sa.func.count()).select_from(m.Member).where(m.Member.org_id == org_id)
        if live_only:
            stmt = stmt.where(m.Member.status != m.MemberStatus.REMOVED)
        return int(self.session.scalar(stmt) or 0)

    def count_active_admins(self, org_id: str) -> int:
        return int(
            self.session.scalar(
                sa.select(sa.func.count())
                .select_from(m.Member)
                .where(
                    m.Member.org_id == org_id,
                    m.Member.role == m.Role.ADMIN,
                    m.Member.status == m.MemberStatus.ACTIVE,
                )
            )
            or 0
        )

    def is_blocked(self, org_id: str, email: str) -> bool:
        return self.blocked_email(org_id, email) is not None

    def blocked_email(self, org_id: str, email: str) -> m.BlockedEmail | None:
        return self.session.scalars(
            sa.select(m.BlockedEmail).where(m.BlockedEmail.org_id == org_id, m.BlockedEmail.email == email)
        ).one_or_none()

    def blocked_emails(self, org_id: str) -> Sequence[m.BlockedEmail]:
        return self.session.scalars(
            sa.select(m.BlockedEmail).where(m.BlockedEmail.org_id == org_id).order_by(m.BlockedEmail.email)
        ).all()

    # -- projects ------------------------------------------------------------------------------------------
    def default_project(self, org_id: str) -> m.Project:
        return self.session.scalars(
            sa.select(m.Project).where(m.Project.org_id == org_id, m.Project.is_default.is_(True))
        ).one()

    def projects(self, org_id: str) -> Sequence[m.Project]:
        return self.session.scalars(
            sa.select(m.Project)
            .where(m.Project.org_id == org_id)
            .order_by(m.Project.is_default.desc(), m.Project.name)
        ).all()

    def project_membership(self, org_id: str, project_id: str, member_id: str) -> m.ProjectMembership | None:
        return self.session.scalars(
            sa.select(m.ProjectMembership).where(
                m.ProjectMembership.org_id == org_id,
                m.ProjectMembership.project_id == project_id,
                m.ProjectMembership.member_id == member_id,
            )
        ).one_or_none()

    def projects_of_member(self, org_id: str, member_id: str) -> Sequence[m.Project]:
        return self.session.scalars(
            sa.select(m.Project)
            .join(m.ProjectMembership, m.ProjectMembership.project_id == m.Project.id)
            .where(m.ProjectMembership.org_id == org_id, m.ProjectMembership.member_id == member_id)
            .order_by(m.Project.is_default.desc(), m.Project.name)
        ).all()

    def project_members(
        self, org_id: str, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Member], int]:
        stmt = (
            sa.select(m.Member)
            .join(m.ProjectMembership, m.ProjectMembership.member_id == m.Member.id)
            .where(m.ProjectMembership.org_id == org_id, m.ProjectMembership.project_id == project_id)
            .order_by(m.Member.email, m.Member.id)
        )
        return self._page(stmt, offset, limit)

    def delete_project_memberships(self, org_id: str, member_id: str) -> int:
        result = self.session.execute(
            sa.delete(m.ProjectMembership).where(
                m.ProjectMembership.org_id == org_id, m.ProjectMembership.member_id == member_id
            )
        )
        return int(result.rowcount or 0)

    # -- resources and keys --------------------------------------------------------------------------------
    def resources(
        self, org_id: str, project_id: str, *, created_by: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Resource], int]:
        stmt = sa.select(m.Resource).where(m.Resource.org_id == org_id, m.Resource.project_id == project_id)
        if created_by:
            stmt = stmt.where(m.Resource.created_by == created_by)
        return self._page(stmt.order_by(m.Resource.created_at, m.Resource.id), offset, limit)

    def resources_created_by(self, org_id: str, member_id: str) -> Sequence[m.Resource]:
        return self.session.scalars(
            sa.select(m.Resource)
            .where(m.Resource.org_id == org_id, m.Resource.created_by == member_id)
            .order_by(m.Resource.created_at)
        ).all()

    def api_key_by_hash(self, token_hash: str) -> m.ApiKey | None:
        return self.session.scalars(
            sa.select(m.ApiKey).where(m.ApiKey.token_hash == token_hash)
        ).one_or_none()

    def api_keys(
        self, org_id: str, *, kind: m.ApiKeyKind | None = None, project_id: str | None = None
    ) -> Sequence[m.ApiKey]:
        stmt = sa.select(m.ApiKey).where(m.ApiKey.org_id == org_id)
        if kind is not None:
            stmt = stmt.where(m.ApiKey.kind == kind)
        if project_id is not None:
            stmt = stmt.where(m.ApiKey.project_id == project_id)
        return self.session.scalars(stmt.order_by(m.ApiKey.created_at)).all()

    def revoke_member_api_keys(self, org_id: str, member_id: str, now: datetime) -> int:
        result = self.session.execute(
            sa.update(m.ApiKey)
            .where(m.ApiKey.org_id == org_id, m.ApiKey.member_id == member_id, m.ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    def revoke_project_api_keys(self, org_id: str, project_id: str, member_id: str, now: datetime) -> int:
        """Revoke the keys ``member_id`` holds in one project (they left it); their other keys stay."""
        result = self.session.execute(
            sa.update(m.ApiKey)
            .where(
                m.ApiKey.org_id == org_id,
                m.ApiKey.project_id == project_id,
                m.ApiKey.member_id == member_id,
                m.ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    def scim_token_by_hash(self, token_hash: str) -> m.ScimToken | None:
        return self.session.scalars(
            sa.select(m.ScimToken).where(m.ScimToken.token_hash == token_hash)
        ).one_or_none()

    def scim_tokens(self, org_id: str) -> Sequence[m.ScimToken]:
        return self.session.scalars(
            sa.select(m.ScimToken).where(m.ScimToken.org_id == org_id).order_by(m.ScimToken.created_at)
        ).all()

    # -- connections ---------------------------------------------------------------------------------------
    def connections(self, org_id: str) -> Sequence[m.SsoConnection]:
        return self.session.scalars(
            sa.select(m.SsoConnection).where(m.SsoConnection.org_id == org_id).order_by(m.SsoConnection.slug)
        ).all()

    def connection_by_slug(self, slug: str) -> m.SsoConnection | None:
        return self.session.scalars(
            sa.select(m.SsoConnection).where(m.SsoConnection.slug == slug)
        ).one_or_none()

    # -- invitations ---------------------------------------------------------------------------------------
    def invitation_by_hash(self, token_hash: str) -> m.Invitation | None:
        return self.session.scalars(
            sa.select(m.Invitation).where(m.Invitation.token_hash == token_hash)
        ).one_or_none()

    def pending_invitation(self, org_id: str, email: str) -> m.Invitation | None:
        return self.session.scalars(
            sa.select(m.Invitation).where(
                m.Invitation.org_id == org_id,
                m.Invitation.email == email,
                m.Invitation.status == m.InvitationStatus.PENDING,
            )
        ).one_or_none()

    def invitations(
        self,
        org_id: str,
        now: datetime,
        *,
        status: m.InvitationStatus | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.Invitation], int]:
        """Invitations by *effective* status: a stored ``pending`` past ``expires_at`` counts as ``expired``."""
        stmt = sa.select(m.Invitation).where(m.Invitation.org_id == org_id)
        if status is m.InvitationStatus.PENDING:
            stmt = stmt.where(m.Invitation.status == status, m.Invitation.expires_at > now)
        elif status is m.InvitationStatus.EXPIRED:
            stmt = stmt.where(
                m.Invitation.status == m.InvitationStatus.PENDING, m.Invitation.expires_at <= now
            )
        elif status is not None:
            stmt = stmt.where(m.Invitation.status == status)
        return self._page(stmt.order_by(m.Invitation.created_at.desc(), m.Invitation.id), offset, limit)

    def pending_invitations(self, org_id: str) -> Sequence[m.Invitation]:
        return self.session.scalars(
            sa.select(m.Invitation).where(
                m.Invitation.org_id == org_id, m.Invitation.status == m.InvitationStatus.PENDING
            )
        ).all()

    # -- sessions ------------------------------------------------------------------------------------------
    def web_session_by_hash(self, token_hash: str) -> m.WebSession | None:
        return self.session.scalars(
            sa.select(m.WebSession).where(m.WebSession.token_hash == token_hash)
        ).one_or_none()

    def revoke_member_sessions(self, org_id: str, member_id: str, now: datetime) -> int:
        result = self.session.execute(
            sa.update(m.WebSession)
            .where(
                m.WebSession.org_id == org_id,
                m.WebSession.member_id == member_id,
                m.WebSession.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount or 0)

    # -- billing -------------------------------------------------------------------------------------------
    def credit_totals(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict:
        """Credits purchased and used by the organization, optionally within ``[since, until)``."""
        stmt = sa.select(m.CreditEntry.kind, sa.func.coalesce(sa.func.sum(m.CreditEntry.credits), 0)).where(
            m.CreditEntry.org_id == org_id
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.kind)
        totals = {kind: 0 for kind in m.CreditKind}
        for kind, total in self.session.execute(stmt):
            totals[m.CreditKind(kind)] = int(total)
        return totals

    def usage_by_project(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[tuple[str | None, str | None, int]]:
        stmt = (
            sa.select(m.CreditEntry.project_id, m.Project.name, sa.func.sum(m.CreditEntry.credits))
            .outerjoin(m.Project, m.Project.id == m.CreditEntry.project_id)
            .where(m.CreditEntry.org_id == org_id, m.CreditEntry.kind == m.CreditKind.USAGE)
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.project_id, m.Project.name)
        return sorted(
            ((p, n, int(c)) for p, n, c in self.session.execute(stmt)), key=lambda r: (-r[2], r[1] or "")
        )

    def usage_by_member(
        self, org_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[tuple[str, str, int]]:
        stmt = (
            sa.select(m.CreditEntry.member_id, m.Member.email, sa.func.sum(m.CreditEntry.credits))
            .join(m.Member, m.Member.id == m.CreditEntry.member_id)
            .where(m.CreditEntry.org_id == org_id, m.CreditEntry.kind == m.CreditKind.USAGE)
        )
        stmt = _within(stmt, since, until).group_by(m.CreditEntry.member_id, m.Member.email)
        return sorted(((i, e, int(c)) for i, e, c in self.session.execute(stmt)), key=lambda r: (-r[2], r[1]))

    def credit_entries(
        self,
        org_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.CreditEntry], int]:
        stmt = _within(sa.select(m.CreditEntry).where(m.CreditEntry.org_id == org_id), since, until)
        return self._page(stmt.order_by(m.CreditEntry.created_at.desc(), m.CreditEntry.id), offset, limit)

    # -- audit ---------------------------------------------------------------------------------------------
    def audit_events(
        self,
        org_id: str,
        *,
        actor_type: m.ActorType | None = None,
        actor_id: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[m.AuditEvent], int]:
        stmt = sa.select(m.AuditEvent).where(m.AuditEvent.org_id == org_id)
        if actor_type is not None:
            stmt = stmt.where(m.AuditEvent.actor_type == actor_type)
        if actor_id:
            stmt = stmt.where(m.AuditEvent.actor_id == actor_id)
        if action:
            if action.endswith("*"):
                stmt = stmt.where(m.AuditEvent.action.like(_escape_like(action[:-1]) + "%", escape="\\"))
            else:
                stmt = stmt.where(m.AuditEvent.action == action)
        if target_id:
            stmt = stmt.where(m.AuditEvent.target_id == target_id)
        return self._page(stmt.order_by(m.AuditEvent.at.desc(), m.AuditEvent.id.desc()), offset, limit)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _within(stmt: sa.Select, since: datetime | None, until: datetime | None) -> sa.Select:
    if since is not None:
        stmt = stmt.where(m.CreditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(m.CreditEntry.created_at < until)
    return stmt
