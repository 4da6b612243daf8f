"""Moving an existing account into another organization (rule 12), as a workflow.

1. An Admin of the **target** organization requests it (after its invitation, SCIM push or JIT sign-in was
   refused with ``account_in_other_organization``); a dry run shows the effects or the reason for a refusal.
2. The **person** confirms by signing in with their current sign-in (a session that started after the request).
3. An Admin of the **source** organization approves; a source organization without other members (the typical
   personal account) approves automatically. **Support** can apply or refuse any request from the CLI.

The migration is applied as soon as it is both confirmed and approved, in one transaction that holds both
organizations' row locks (taken in id order, so two migrations in opposite directions cannot deadlock): the
account leaves the source as a removal does (``MemberService.remove``), joins the target's Default Project
(``MemberService.join``), and the credit ledger is not touched, so the source's balance stays where it is.
Every step is audited in both organizations and published as an outbox event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, InvalidInput
from gateway.domain.migration import (
    MigrationFacts,
    MigrationRefused,
    check_migration,
    migration_effects,
    needs_source_approval,
    refuse,
)
from gateway.domain.policy import email_domain, normalize_email
from gateway.services.base import ServiceBase, new_id
from gateway.services.members import MemberService, Profile
from gateway.storage.account_migration_store import MigrationStore
from gateway.storage.account_migration_tables import AccountMigration, Approval, MigrationStatus
from gateway.storage.store import Store

__all__ = ["AccountMigrationService", "MigrationPreview", "MigrationRefused"]


class _InTransaction:
    """A ``Database`` stand-in whose ``transaction()`` is the caller's, so ``MemberService``'s use cases run
    inside the migration's single transaction."""

    def __init__(self, tx: Store) -> None:
        self._tx = tx

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        yield self._tx


@dataclass(frozen=True)
class MigrationPreview:
    """The dry run: what applying would do, or why it is refused."""

    email: str
    target: m.Organization
    source: m.Organization | None
    role: m.Role
    effects: list[str]
    refusal: MigrationRefused | None
    needs_approval: bool

    @property
    def allowed(self) -> bool:
        return self.refusal is None


class AccountMigrationService(ServiceBase):
    def _members(self, tx: Store) -> MemberService:
        return MemberService(_InTransaction(tx), self.clock, self.tokens, self.listeners)  # type: ignore[arg-type]

    # -- locking and facts ---------------------------------------------------------------------------------
    def _lock(self, tx: Store, *org_ids: str) -> dict[str, m.Organization]:
        """Lock the organizations exclusively in id order, then forget everything read before the locks, so
        what follows sees what committed meanwhile."""
        locked = {}
        for org_id in sorted(set(org_ids)):
            # ``tx.org(lock=True)`` is the exclusive row lock (FOR UPDATE) whatever strength other use cases take.
            locked[org_id] = self.found(tx.org(org_id, lock=True), "organization")
        tx.session.expire_all()
        return locked

    def _facts(
        self, tx: Store, target: m.Organization, email: str, migration: AccountMigration | None = None
    ) -> MigrationFacts:
        if migration is not None:
            source_member = tx.get(m.Member, migration.source_org_id, migration.source_member_id)
        else:
            source_member = tx.live_account_elsewhere(target.id, email)
            here = tx.member_by_email(target.id, email)
            if source_member is None and here is not None and here.status is not m.MemberStatus.REMOVED:
                raise refuse("same_organization")
        source = tx.org(source_member.org_id) if source_member is not None else None
        domain = tx.domain(email_domain(email))
        others = 0
        admins = 0
        if source is not None and source_member is not None:
            others = tx.count_members(source.id) - (source_member.status is not m.MemberStatus.REMOVED)
            admins = tx.count_active_admins(source.id)
        return MigrationFacts(
            email=email,
            target=target,
            source=source,
            source_member=source_member,
            source_other_members=others,
            source_active_admins=admins,
            target_blocked=tx.is_blocked(target.id, email),
            domain_owner_id=domain.org_id if domain is not None and domain.verified else None,
            target_usable_connections=sum(1 for c in tx.connections(target.id) if c.is_usable),
            pending_invitation=tx.pending_invitation(target.id, email),
            now=self.now(),
            requested_mode=migration.target_mode if migration is not None else None,
            invitation_id=migration.invitation_id if migration is not None else None,
        )

    def _audit_both(
        self, tx: Store, migration: AccountMigration, actor: m.Actor, action: str, **details: object
    ) -> None:
        details = {
            "migration_id": migration.id,
            "email": migration.email,
            "source_org_id": migration.source_org_id,
            "target_org_id": migration.target_org_id,
            **details,
        }
        for org_id in dict.fromkeys((migration.target_org_id, migration.source_org_id)):
            self.audit(tx, org_id, actor, action, migration, **details)

    # -- reading -------------------------------------------------------------------------------------------
    def list(self, org_id: str, *, status: MigrationStatus | None = None) -> list[AccountMigration]:
        """Migrations into and out of the organization, newest first."""
        with self.db.transaction() as tx:
            return list(MigrationStore(tx).migrations(org_id, status=status))

    def get(self, org_id: str, migration_id: str) -> AccountMigration:
        with self.db.transaction() as tx:
            found: AccountMigration = self.found(
                MigrationStore(tx).migration(org_id, migration_id), "migration"
            )
            return found

    def waiting_for(self, org_id: str, member_id: str) -> list[AccountMigration]:
        """Open migrations of this member's account, which the member may confirm or refuse."""
        with self.db.transaction() as tx:
            return list(MigrationStore(tx).open_migrations_of_member(org_id, member_id))

    def org_names(self, org_ids: list[str]) -> dict[str, str]:
        """Names of the organizations a list of migrations mentions (both sides see each other's name)."""
        with self.db.transaction() as tx:
            return {oid: org.name for oid in set(org_ids) if (org := tx.org(oid)) is not None}

    # -- requesting ----------------------------------------------------------------------------------------
    def preview(self, target_org_id: str, email: str, role: m.Role | None = None) -> MigrationPreview:
        """The dry run of requesting (and applying) a migration of ``email`` into the target organization."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            target = self.found(tx.org(target_org_id), "organization")
            return self._preview(tx, target, email, role, reveal_source=False)

    def _preview(
        self,
        tx: Store,
        target: m.Organization,
        email: str,
        role: m.Role | None,
        migration: AccountMigration | None = None,
        *,
        reveal_source: bool = True,
    ) -> MigrationPreview:
        """``reveal_source`` False (the target's own dry run): ``source`` stays None and the effects do not name
        the organization that holds the account."""
        try:
            facts = self._facts(tx, target, email, migration)
            check_migration(facts)
        except MigrationRefused as refusal:
            source = tx.org(migration.source_org_id) if migration is not None and reveal_source else None
            return MigrationPreview(email, target, source, role or m.Role.MEMBER, [], refusal, False)
        role = role or (facts.pending_invitation.role if facts.pending_invitation else m.Role.MEMBER)
        return MigrationPreview(
            email,
            target,
            facts.source if reveal_source else None,
            role,
            migration_effects(facts, role, reveal_source=reveal_source),
            None,
            needs_source_approval(facts),
        )

    def request(
        self, target_org_id: str, email: str, actor: m.Actor, role: m.Role | None = None
    ) -> AccountMigration:
        """Open a migration request; it is approved at once when the source organization has no other member."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            holder = tx.live_account_elsewhere(target_org_id, email)
            org_ids = [target_org_id] + ([holder.org_id] if holder is not None else [])
            target = self._lock(tx, *org_ids)[target_org_id]
            facts = self._facts(tx, target, email)
            check_migration(facts)
            assert facts.source is not None and facts.source_member is not None
            if facts.source.id not in org_ids:  # the account moved between the read and the locks
                raise refuse("account_removed")
            store = MigrationStore(tx)
            if store.open_migration(target.id, email) is not None:
                raise refuse("already_requested")
            now = self.now()
            invitation = self._invitation_for(tx, target, facts, role, actor)
            migration = AccountMigration(
                id=new_id(),
                email=email,
                source_org_id=facts.source.id,
                target_org_id=target.id,
                source_member_id=facts.source_member.id,
                role=role or (invitation.role if invitation is not None else m.Role.MEMBER),
                target_mode=target.mode,
                status=MigrationStatus.REQUESTED,
                requested_at=now,
                updated_at=now,
                requested_by=actor.label,
                invitation_id=invitation.id if invitation is not None else None,
            )
            if not needs_source_approval(facts):
                migration.approval, migration.approved_at = Approval.AUTOMATIC, now
            tx.add(migration)
            tx.flush(REASON_ALREADY)
            self._audit_both(
                tx, migration, actor, "account_migration.requested",
                role=migration.role.value, approval=migration.approval.value if migration.approval else None,
            )  # fmt: skip
            return migration

    def _invitation_for(
        self, tx: Store, target: m.Organization, facts: MigrationFacts, role: m.Role | None, actor: m.Actor
    ) -> m.Invitation | None:
        """In invitation mode a migration rides on a pending invitation (the mode's only way in): the one
        already sent, or one issued now. No email goes out: its link could only fail while the account is
        elsewhere; the migration itself is the way in, and revoking the invitation cancels it."""
        if target.mode is not m.MembershipMode.INVITATION:
            return None
        if facts.pending_invitation is not None:
            return facts.pending_invitation
        now = self.now()
        invitation = m.Invitation(
            id=new_id(),
            org_id=target.id,
            email=facts.email,
            role=role or m.Role.MEMBER,
            token_hash=self.tokens.issue("inv").token_hash,
            status=m.InvitationStatus.PENDING,
            sent_at=now,
            expires_at=now + m.INVITATION_LIFETIME,
            created_at=now,
            invited_by=actor.label,
        )
        tx.add(invitation)
        self.audit(
            tx, target.id, actor, "invitation.created", invitation,
            email=facts.email, role=invitation.role.value, via="migration",
        )  # fmt: skip
        return invitation

    # -- the person, the source organization, support ------------------------------------------------------
    def _open(
        self, tx: Store, migration_id: str, org_id: str | None
    ) -> tuple[AccountMigration, m.Organization]:
        store = MigrationStore(tx)
        found = store.migration(org_id, migration_id) if org_id else store.migration_by_id(migration_id)
        migration: AccountMigration = self.found(found, "migration")
        target = self._lock(tx, migration.source_org_id, migration.target_org_id)[migration.target_org_id]
        if not migration.is_open:
            raise refuse("not_open", status=migration.status.value)
        return migration, target

    def confirm(
        self, org_id: str, migration_id: str, member_id: str, signed_in_at: datetime, actor: m.Actor
    ) -> AccountMigration:
        """The person confirms, signed in to their current organization with a session newer than the
        request; applied at once when already approved."""
        with self._settling(migration_id), self.db.transaction() as tx:
            migration, target = self._open(tx, migration_id, org_id)
            if migration.source_org_id != org_id or migration.source_member_id != member_id:
                raise refuse("not_the_account_holder")
            if signed_in_at < migration.requested_at:
                raise refuse("sign_in_again")
            if migration.confirmed_at is None:
                migration.confirmed_at = migration.updated_at = self.now()
                self._audit_both(tx, migration, actor, "account_migration.confirmed")
            return self._apply_when_ready(tx, migration, target, actor)

    def approve(self, org_id: str, migration_id: str, actor: m.Actor) -> AccountMigration:
        """An Admin of the source organization approves (the adapter checks the Admin role)."""
        with self._settling(migration_id), self.db.transaction() as tx:
            migration, target = self._open(tx, migration_id, org_id)
            if migration.source_org_id != org_id:
                raise Forbidden(
                    "Only an Admin of the account's current organization can approve its migration."
                )
            if migration.approval is None:
                now = self.now()
                migration.approval, migration.approved_at, migration.approved_by = (
                    Approval.ADMIN,
                    now,
                    actor.label,
                )
                migration.updated_at = now
                self._audit_both(tx, migration, actor, "account_migration.approved", approval="admin")
            return self._apply_when_ready(tx, migration, target, actor)

    def decline(
        self,
        org_id: str,
        migration_id: str,
        actor: m.Actor,
        *,
        reason: str = "",
        as_member_id: str | None = None,
    ) -> AccountMigration:
        """Refuse an open migration: an Admin of either organization (``as_member_id`` None), or the person."""
        with self.db.transaction() as tx:
            migration, _ = self._open(tx, migration_id, org_id)
            if as_member_id is not None and as_member_id != migration.source_member_id:
                raise refuse("not_the_account_holder")
            by = "person" if as_member_id is not None else (
                "target" if org_id == migration.target_org_id else "source"
            )  # fmt: skip
            return self._refuse(tx, migration, actor, f"refused_by_{by}", _reason(reason))

    @contextmanager
    def _settling(self, migration_id: str) -> Iterator[None]:
        """A refusal that will not go away by waiting (the account left, the mode switched, the invitation was
        revoked) closes the migration, in its own transaction since the failed one rolls back."""
        try:
            yield
        except MigrationRefused as refusal:
            if refusal.code in FINAL_REFUSALS:
                with self.db.transaction() as tx:
                    migration = MigrationStore(tx).migration_by_id(migration_id)
                    if migration is not None:
                        self._lock(tx, migration.source_org_id, migration.target_org_id)
                        if migration.is_open:
                            self._refuse(tx, migration, m.Actor.system(), refusal.code, refusal.message)
            raise

    def _refuse(
        self, tx: Store, migration: AccountMigration, actor: m.Actor, code: str, reason: str
    ) -> AccountMigration:
        now = self.now()
        migration.status = MigrationStatus.REFUSED
        migration.refused_at = migration.updated_at = now
        migration.refused_by = actor.label
        migration.refusal_code, migration.refusal_reason = code, reason or None
        self._audit_both(tx, migration, actor, "account_migration.refused", reason=code, detail=reason)
        return migration

    def _apply_when_ready(
        self, tx: Store, migration: AccountMigration, target: m.Organization, actor: m.Actor
    ) -> AccountMigration:
        if migration.confirmed_at is None or migration.approval is None:
            return migration
        facts = self._facts(tx, target, migration.email, migration)
        if migration.approval is Approval.AUTOMATIC and needs_source_approval(facts):
            # Someone joined the source organization since the request: its Admins decide after all.
            migration.approval = migration.approved_at = None
            self._audit_both(tx, migration, actor, "account_migration.approval_needed")
            return migration
        return self._apply(tx, migration, facts, actor)

    def _apply(
        self, tx: Store, migration: AccountMigration, facts: MigrationFacts, actor: m.Actor
    ) -> AccountMigration:
        check_migration(facts)
        source_member = facts.source_member
        assert source_member is not None and facts.source is not None
        members = self._members(tx)
        revoked = members.remove(
            facts.source.id, source_member.id, actor, source=m.RemovalSource.MIGRATION, override=True
        )
        profile = Profile(
            display_name=source_member.display_name,
            given_name=source_member.given_name,
            family_name=source_member.family_name,
        )
        joined = members.join(
            tx, facts.target, migration.email, migration.role, m.JoinPath.MIGRATION, actor, profile
        )
        invitation = facts.pending_invitation
        if facts.target.mode is m.MembershipMode.INVITATION and invitation is not None:
            invitation.status = m.InvitationStatus.ACCEPTED
            invitation.accepted_at = self.now()
            invitation.accepted_member_id = joined.id
            self.audit(
                tx, facts.target.id, actor, "invitation.accepted", invitation,
                email=invitation.email, member_id=joined.id, via="migration",
            )  # fmt: skip
        now = self.now()
        migration.status = MigrationStatus.APPLIED
        migration.applied_at = migration.updated_at = now
        migration.target_member_id = joined.id
        self._audit_both(
            tx, migration, actor, "account_migration.applied",
            source_member_id=source_member.id, target_member_id=joined.id, role=migration.role.value,
            approval=migration.approval.value if migration.approval else None,
            project_access_revoked=revoked.project_access_revoked, sessions_ended=revoked.sessions_ended,
            api_keys_revoked=revoked.api_keys_revoked, resources_kept=revoked.resources_kept,
        )  # fmt: skip
        return migration

    # -- support (the CLI) ---------------------------------------------------------------------------------
    def support_preview(self, email: str, target_org_id: str, role: m.Role | None = None) -> MigrationPreview:
        """``gateway account migrate EMAIL --to ORG --dry-run``: the open request if any, else a new one."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            target = self.found(tx.org(target_org_id), "organization")
            migration = MigrationStore(tx).open_migration(target.id, email)
            return self._preview(
                tx, target, email, role or (migration.role if migration else None), migration
            )

    def support_apply(
        self, email: str, target_org_id: str, actor: m.Actor, role: m.Role | None = None
    ) -> AccountMigration:
        """Support applies the open request for ``email`` (or a new one), standing in for the confirmation and
        the approval; the mode rules and every other refusal still hold."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            store = MigrationStore(tx)
            migration = store.open_migration(target_org_id, email)
            holder = tx.live_account_elsewhere(target_org_id, email)
            org_ids = [target_org_id]
            org_ids += [migration.source_org_id] if migration is not None else []
            org_ids += [holder.org_id] if holder is not None else []
            target = self._lock(tx, *org_ids)[target_org_id]
            migration = store.open_migration(target.id, email)
            facts = self._facts(tx, target, email, migration)
            check_migration(facts)
            assert facts.source is not None and facts.source_member is not None
            if facts.source.id not in org_ids:
                raise refuse("account_removed")
            now = self.now()
            if migration is None:
                invitation = self._invitation_for(tx, target, facts, role, actor)
                migration = AccountMigration(
                    id=new_id(), email=email, source_org_id=facts.source.id, target_org_id=target.id,
                    source_member_id=facts.source_member.id,
                    role=role or (invitation.role if invitation is not None else m.Role.MEMBER),
                    target_mode=target.mode, status=MigrationStatus.REQUESTED, requested_at=now, updated_at=now,
                    requested_by=actor.label, invitation_id=invitation.id if invitation is not None else None,
                )  # fmt: skip
                tx.add(migration)
                tx.flush(REASON_ALREADY)
                self._audit_both(
                    tx, migration, actor, "account_migration.requested", role=migration.role.value
                )
            elif role is not None:
                migration.role = role
            migration.approval, migration.approved_at, migration.approved_by = (
                Approval.SUPPORT,
                now,
                actor.label,
            )
            # Read again as a request being applied: the invitation issued just now is the one it uses.
            return self._apply(tx, migration, self._facts(tx, target, email, migration), actor)

    def support_refuse(
        self, email: str, target_org_id: str, actor: m.Actor, reason: str = ""
    ) -> AccountMigration:
        email = normalize_email(email)
        with self.db.transaction() as tx:
            found = MigrationStore(tx).open_migration(target_org_id, email)
            migration: AccountMigration = self.found(found, "open migration for this email")
            self._lock(tx, migration.source_org_id, migration.target_org_id)
            tx.refresh(migration)
            if not migration.is_open:
                raise refuse("not_open", status=migration.status.value)
            return self._refuse(tx, migration, actor, "refused_by_support", _reason(reason))


FINAL_REFUSALS = frozenset(
    {"account_removed", "mode_changed", "invitation_gone", "domain_owned_elsewhere", "same_organization"}
)
"""Refusals at apply time that close the migration; the others (a suspension, the last Admin, a blocked email,
no SSO connection) can be fixed, so the migration stays open."""

REASON_ALREADY = "A migration of this account into this organization is already waiting."


def _reason(value: str) -> str:
    value = (value or "").strip()
    if len(value) > 500:
        raise InvalidInput("A reason must be at most 500 characters.", field="reason")
    return value
