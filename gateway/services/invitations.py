"""Invitations (rule 3): single use, stored hashed, 7-day expiry, revoke, resend; only in invitation mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.domain import model as m
from gateway.domain.errors import AccountInOtherOrganization, EmailTaken, InvitationInvalid
from gateway.domain.policy import check_invitation_acceptable, normalize_email, require_mode_allows
from gateway.services.base import ServiceBase, hash_token, new_id
from gateway.services.domains import require_address_allowed
from gateway.services.members import ACCOUNT_ELSEWHERE, MemberService
from gateway.storage.store import Store


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation with its link token; the token exists only here, the database keeps its hash."""

    invitation: m.Invitation
    token: str


class InvitationService(ServiceBase):
    def __init__(self, *args, members: MemberService, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.members = members

    def create(self, org_id: str, email: str, role: m.Role, actor: m.Actor) -> IssuedInvitation:
        email = normalize_email(email)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            require_mode_allows(org, m.JoinPath.INVITATION)
            member = tx.member_by_email(org.id, email)
            if member is not None and member.status is not m.MemberStatus.REMOVED:
                raise EmailTaken("This person is already a member of the organization.")
            require_address_allowed(tx, org.id, email)
            if tx.live_account_elsewhere(org.id, email) is not None:
                raise AccountInOtherOrganization(ACCOUNT_ELSEWHERE)
            if tx.pending_invitation(org.id, email) is not None:
                raise EmailTaken("A pending invitation for this email already exists; resend it instead.")
            issued = self.tokens.issue("inv")
            now = self.now()
            invitation = m.Invitation(
                id=new_id(),
                org_id=org.id,
                email=email,
                role=role,
                token_hash=issued.token_hash,
                status=m.InvitationStatus.PENDING,
                sent_at=now,
                expires_at=now + m.INVITATION_LIFETIME,
                created_at=now,
                invited_by=actor.label,
            )
            tx.add(invitation)
            tx.flush("A pending invitation for this email already exists; resend it instead.")
            self.audit(tx, org.id, actor, "invitation.created", invitation, email=email, role=role.value)
            self.publish(tx, "invitation.issued", org=org, invitation=invitation, token=issued.token)
            return IssuedInvitation(invitation, issued.token)

    def list(
        self,
        org_id: str,
        *,
        status: m.InvitationStatus | None = None,
        offset: int = 0,
        limit: int = 50,
        after: tuple[Any, ...] | None = None,
    ) -> tuple[list[m.Invitation], int | None]:
        """``after``: a keyset page (no total) following that (created_at, id), newest first."""
        with self.db.transaction() as tx:
            return tx.invitations(org_id, self.now(), status=status, offset=offset, limit=limit, after=after)

    def get(self, org_id: str, invitation_id: str) -> m.Invitation:
        with self.db.transaction() as tx:
            return self.found(tx.get(m.Invitation, org_id, invitation_id), "invitation")

    def _pending(self, tx: Store, org_id: str, invitation_id: str) -> m.Invitation:
        invitation: m.Invitation = self.found(tx.get(m.Invitation, org_id, invitation_id), "invitation")
        tx.refresh(invitation, lock=True)
        if invitation.status is not m.InvitationStatus.PENDING:
            raise InvitationInvalid(f"This invitation is {invitation.status.value}, not pending.")
        return invitation

    def revoke(self, org_id: str, invitation_id: str, actor: m.Actor) -> m.Invitation:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            invitation = self._pending(tx, org_id, invitation_id)
            invitation.status = m.InvitationStatus.REVOKED
            invitation.revoked_at = self.now()
            self.audit(tx, org_id, actor, "invitation.revoked", invitation, email=invitation.email)
            return invitation

    def resend(self, org_id: str, invitation_id: str, actor: m.Actor) -> IssuedInvitation:
        """A new link with a fresh 7 days; the old link stops working because its hash is gone."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            require_mode_allows(org, m.JoinPath.INVITATION)
            invitation = self._pending(tx, org_id, invitation_id)
            require_address_allowed(tx, org.id, invitation.email)
            issued = self.tokens.issue("inv")
            now = self.now()
            invitation.token_hash = issued.token_hash
            invitation.sent_at = now
            invitation.expires_at = now + m.INVITATION_LIFETIME
            invitation.send_count += 1
            self.audit(tx, org_id, actor, "invitation.resent", invitation, email=invitation.email)
            self.publish(tx, "invitation.issued", org=org, invitation=invitation, token=issued.token)
            return IssuedInvitation(invitation, issued.token)

    def peek(self, token: str) -> m.Invitation:
        """The invitation a link points to (to show its page before sign-in); raises if the link is unknown."""
        with self.db.transaction() as tx:
            return self._by_token(tx, token)

    @staticmethod
    def _by_token(tx: Store, token: str) -> m.Invitation:
        invitation = tx.invitation_by_hash(hash_token(token or ""))
        if invitation is None:
            raise InvitationInvalid(
                "This invitation link is not valid. It may have been replaced by a newer one."
            )
        return invitation

    def accept(self, token: str, verified_email: str, actor: m.Actor) -> m.Member:
        """Accept with a sign-in's verified email. Mode check and writes happen under the organization lock,
        so an acceptance racing a switch to SSO mode resolves to one consistent outcome."""
        with self.db.transaction() as tx:
            org_id = self._by_token(tx, token).org_id
            org = self.locked_org(tx, org_id)
            invitation = self._by_token(tx, token)
            tx.refresh(invitation, lock=True)
            check_invitation_acceptable(org, invitation, verified_email, self.now())
            member = self.members.join(
                tx, org, invitation.email, invitation.role, m.JoinPath.INVITATION, actor
            )
            invitation.status = m.InvitationStatus.ACCEPTED
            invitation.accepted_at = self.now()
            invitation.accepted_member_id = member.id
            self.audit(
                tx,
                org.id,
                actor,
                "invitation.accepted",
                invitation,
                email=invitation.email,
                member_id=member.id,
            )
            return member
