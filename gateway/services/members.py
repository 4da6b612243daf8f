"""Members: joining (every path lands in the Default Project), roles, removal, suspension, the block list,
and the SSO sign-in outcome (just-in-time creation) that the SAML and OIDC adapters share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.domain import model as m
from gateway.domain.errors import (
    AccountInOtherOrganization,
    DomainError,
    EmailBlocked,
    EmailTaken,
    MemberInactive,
)
from gateway.domain.policy import (
    JitOutcome,
    decide_sso_sign_in,
    email_domain,
    ensure_keeps_an_admin,
    normalize_email,
    require_mode_allows,
)
from gateway.services.base import ServiceBase, new_id
from gateway.services.domains import (
    address_domains,
    note_domain_free,
    refuse_claimed_elsewhere,
    require_address_allowed,
)
from gateway.storage.constraints import register_constraint_error
from gateway.storage.key_custody import revoke_keys_created_by
from gateway.storage.store import Store, fresh

UNREAD = object()
"""``join(existing=...)`` when the caller has not read the member with that email yet."""

ACCOUNT_ELSEWHERE = (
    "This email address already has an account in another organization. Every account belongs to one "
    "organization: the account must be migrated before it can join this one."
)

register_constraint_error(
    ("uq_members_live_email", "members.email"), lambda: AccountInOtherOrganization(ACCOUNT_ELSEWHERE)
)
register_constraint_error(
    ("uq_members_org_id_email", "members_org_id_email_key", "members.org_id, members.email"),
    lambda: EmailTaken("A member with this email address already exists in this organization."),
)


@dataclass(frozen=True)
class Profile:
    """Optional person attributes supplied by SCIM, an IdP assertion or an Admin."""

    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    user_name: str | None = None
    external_id: str | None = None
    attributes: dict[str, Any] | None = None
    """Protocol attributes the core keeps but does not interpret (SCIM phone numbers, the enterprise extension)."""

    def apply(self, member: m.Member) -> None:
        for name in ("display_name", "given_name", "family_name", "user_name", "external_id", "attributes"):
            value = getattr(self, name)
            if value is not None:
                setattr(member, name, value)


@dataclass(frozen=True)
class MemberView:
    member: m.Member
    projects: list[m.Project]
    resources_created: list[m.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class AccessRevoked:
    """What a removal or suspension took away, reported to the caller and recorded in the audit event."""

    member: m.Member
    project_access_revoked: int
    sessions_ended: int
    api_keys_revoked: int
    resources_kept: int
    blocked: bool = False


@dataclass(frozen=True)
class SsoSignIn:
    member: m.Member
    outcome: JitOutcome


class MemberService(ServiceBase):
    # -- joining -------------------------------------------------------------------------------------------
    def join(
        self,
        tx: Store,
        org: m.Organization,
        email: str,
        role: m.Role,
        path: m.JoinPath,
        actor: m.Actor,
        profile: Profile | None = None,
        *,
        existing: m.Member | object | None = UNREAD,
    ) -> m.Member:
        """Create the member (or bring a removed one back) and put them in the Default Project (rule 4).

        The caller holds the organization lock and has already applied the mode policy for ``path``; a caller
        that already read the member with this email passes it as ``existing``. "One account, one
        organization" is the database's to enforce (the live-email index), since joins of one email in two
        organizations hold different locks."""
        email = normalize_email(email)
        require_address_allowed(tx, org.id, email)
        now = self.now()
        if existing is UNREAD:
            tx.lock_email(org.id, email)
            existing = tx.member_by_email(org.id, email)
        member = existing
        assert member is None or isinstance(member, m.Member)
        restored = member is not None
        if member is None:
            member = fresh(
                m.Member,
                id=new_id(),
                org_id=org.id,
                email=email,
                role=role,
                status=m.MemberStatus.ACTIVE,
                joined_via=path,
                created_at=now,
                updated_at=now,
            )
        elif member.status is not m.MemberStatus.REMOVED:
            raise EmailTaken("A member with this email address already exists in this organization.")
        else:
            member.status = m.MemberStatus.ACTIVE
            member.role = role
            member.joined_via = path
            member.removed_at = member.removed_by = member.suspended_at = None
            member.updated_at = now
            member.version += 1
        if profile is not None:
            profile.apply(member)
        member.scim_linked = path is m.JoinPath.SCIM
        project_id = tx.default_project_id(org.id)
        if restored:
            tx.flush()
            if tx.project_membership(org.id, project_id, member.id) is None:
                tx.add(m.ProjectMembership(new_id(), org.id, project_id, member.id, now))
        else:
            # A new member is written at once, whole (a join is the hot path of a first sync).
            membership = fresh(
                m.ProjectMembership,
                id=new_id(), org_id=org.id, project_id=project_id, member_id=member.id, created_at=now,
            )  # fmt: skip
            tx.insert_new(member, membership)
            tx.note_member_locked(member.id)
        self.audit(
            tx, org.id, actor, "member.joined", member,
            email=email, role=role.value, via=path.value, restored=restored, project_id=project_id,
        )  # fmt: skip
        return member

    def add_admin(self, org_id: str, email: str, actor: m.Actor) -> m.Member:
        """Make ``email`` an Admin of the organization: promote a live member or add a new one."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            tx.lock_email(org.id, email)
            member = tx.member_by_email(org.id, email)
            if member is None or member.status is m.MemberStatus.REMOVED:
                return self.join(tx, org, email, m.Role.ADMIN, m.JoinPath.ADMIN, actor, existing=member)
            if member.status is m.MemberStatus.SUSPENDED:
                raise MemberInactive("This member is suspended; restore them before making them an Admin.")
            self._set_role(tx, member, m.Role.ADMIN, actor)
            return member

    def provision(self, org_id: str, email: str, role: m.Role, actor: m.Actor, profile: Profile) -> m.Member:
        """SCIM create: link an existing member by email at the IdP's first push (never a duplicate), or join."""
        return self.provision_member(org_id, email, role, actor, profile)[0]

    def provision_member(
        self,
        org_id: str,
        email: str,
        role: m.Role,
        actor: m.Actor,
        profile: Profile,
        *,
        check_domain: bool = False,
    ) -> tuple[m.Member, bool]:
        """``provision``, also saying whether the member is a new one (not linked, not restored).
        ``check_domain``: refuse the email if another organization verified its domain (rule 11), asked in the
        query that reads the member, so a caller whose other addresses share that domain asks nothing more."""
        email = normalize_email(email)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            require_mode_allows(org, m.JoinPath.SCIM)
            if check_domain:
                (domain,) = address_domains(email)
                member, blocked, claim = tx.member_block_and_domain(org.id, email, domain)
                refuse_claimed_elsewhere(tx, org.id, domain, claim)
            else:
                member, blocked = tx.member_and_block(org.id, email)
            if member is not None and member.status is not m.MemberStatus.REMOVED:
                if member.scim_linked:
                    raise EmailTaken("A member with this email address is already provisioned.")
                # Locked before it changes: a later step that locks it (suspending it) reads it again, over
                # what this transaction changed in the copy it read without the lock.
                member = self.found(tx.member_for_update(org.id, member.id), "member")
                profile.apply(member)
                member.scim_linked = True
                member.updated_at = self.now()
                member.version += 1
                self.audit(tx, org.id, actor, "member.linked", member, email=email, via="scim")
                return member, False
            if blocked:
                raise EmailBlocked(
                    "An Admin of this organization blocked this email address, so it cannot be provisioned. "
                    "Unassign the person in the identity provider, or ask an Admin to unblock the address."
                )
            joined = self.join(tx, org, email, role, m.JoinPath.SCIM, actor, profile, existing=member)
            return joined, member is None

    def sso_sign_in(
        self,
        org_id: str,
        email: str,
        actor: m.Actor,
        *,
        role: m.Role | None = None,
        profile: Profile | None = None,
        audit_details: dict[str, Any] | None = None,
    ) -> SsoSignIn:
        """The outcome of a verified SSO assertion: sign in, create just in time, restore, or refuse (rules 1, 6).

        ``role`` is given only when the connection maps IdP groups to roles; the IdP is then authoritative and an
        existing member's role follows it (rule 7: never demoting the last Admin). Without it a new member joins
        as Member and an existing member keeps their role. Every outcome is audited. A refusal leaves nothing of
        the sign-in behind, only its audit event, in the transaction of the caller's scope (so an adapter's
        earlier writes, such as the replay cache's entry for the assertion, are kept and committed).

        Everything runs in one transaction (the caller's scope, else one of its own). The decision reads and
        locks without writing, so a refusal there needs no savepoint; only the writes of a just-in-time join or
        a role change run inside one, whose failure rolls back those writes alone."""
        email = normalize_email(email)
        with self.db.scope(write=True):
            try:
                result = self._sso_sign_in(org_id, email, actor, role, profile, audit_details or {})
            except DomainError as error:
                result = error
            if isinstance(result, DomainError):
                with self.db.transaction() as tx:
                    if tx.org(org_id) is not None:
                        self.audit(
                            tx,
                            org_id,
                            actor,
                            "sign_in.refused",
                            None,
                            email=email,
                            reason=result.code,
                            detail=result.message,
                        )
        if isinstance(result, DomainError):
            raise result
        return result

    def _sso_sign_in(
        self,
        org_id: str,
        email: str,
        actor: m.Actor,
        role: m.Role | None,
        profile: Profile | None,
        audit_details: dict[str, Any],
    ) -> SsoSignIn | DomainError:
        """The sign-in inside ``sso_sign_in``'s scope; a refusal decided before any write is returned (its
        transaction goes on), one raised by the writes is raised after their savepoint rolled back."""
        with self.db.transaction() as tx:
            try:
                org = self.locked_org(tx, org_id, email=email)
                existing, blocked, domain = tx.member_block_and_domain(org.id, email, email_domain(email))
                if domain is None or domain.org_id == org.id:
                    note_domain_free(tx, org.id, email_domain(email))
                outcome = decide_sso_sign_in(
                    org,
                    existing,
                    blocked=blocked,
                    domain_verified=domain is not None and domain.verified and domain.org_id == org.id,
                    owned_elsewhere=domain is not None and domain.org_id != org.id,
                )
            except DomainError as error:
                return error
            if outcome is JitOutcome.SIGN_IN and (
                role is None or (existing is not None and existing.role is role)
            ):
                # Nothing to write but the audit event: no savepoint.
                assert existing is not None
                return self._signed_in(tx, org, existing, email, outcome, actor, audit_details)
        with self.db.transaction(savepoint=True) as tx:
            if outcome is JitOutcome.SIGN_IN:
                assert existing is not None and role is not None
                member = existing
                self._sync_role(tx, member, role, actor)
            else:
                member = self.join(
                    tx, org, email, role or m.Role.MEMBER, m.JoinPath.JIT, actor, profile, existing=existing
                )
            return self._signed_in(tx, org, member, email, outcome, actor, audit_details)

    def _signed_in(
        self,
        tx: Store,
        org: m.Organization,
        member: m.Member,
        email: str,
        outcome: JitOutcome,
        actor: m.Actor,
        audit_details: dict[str, Any],
    ) -> SsoSignIn:
        self.audit(
            tx,
            org.id,
            actor,
            "sign_in.succeeded",
            member,
            email=email,
            outcome=outcome.value,
            **audit_details,
        )
        return SsoSignIn(member, outcome)

    def _sync_role(self, tx: Store, member: m.Member, role: m.Role, actor: m.Actor) -> None:
        """Follow the IdP's group mapping, except that it never removes the organization's last Admin."""
        if member.role is role:
            return
        if role is not m.Role.ADMIN and member.is_admin:
            tx.lock_admin_changes(member.org_id)
            member = tx.member_for_update(member.org_id, member.id) or member
        if role is not m.Role.ADMIN and member.is_admin and tx.count_active_admins(member.org_id) <= 1:
            self.audit(
                tx,
                member.org_id,
                actor,
                "member.role_sync_skipped",
                member,
                wanted=role.value,
                reason="last_admin",
            )
            return
        self._set_role(tx, member, role, actor, via="idp_groups")

    # -- reading -------------------------------------------------------------------------------------------
    def list(
        self,
        org_id: str,
        *,
        query: str | None = None,
        status: m.MemberStatus | None = None,
        role: m.Role | None = None,
        offset: int = 0,
        limit: int = 50,
        after: tuple[Any, ...] | None = None,
    ) -> tuple[list[m.Member], int | None]:
        """``after``: a keyset page (no total) following that (email,); see ``Store.members``."""
        with self.db.transaction() as tx:
            return tx.members(
                org_id, query=query, status=status, role=role, offset=offset, limit=limit, after=after
            )

    def get(self, org_id: str, member_id: str) -> MemberView:
        with self.db.transaction() as tx:
            member = self.found(tx.get(m.Member, org_id, member_id), "member")
            return MemberView(
                member,
                list(tx.projects_of_member(org_id, member_id)),
                list(tx.resources_created_by(org_id, member_id)),
            )

    def projects_of(self, org_id: str, member_id: str) -> list[m.Project]:
        with self.db.transaction(write=False) as tx:
            return list(tx.projects_of_member(org_id, member_id))

    # -- changing ------------------------------------------------------------------------------------------
    def change_role(
        self, org_id: str, member_id: str, role: m.Role, actor: m.Actor, *, override: bool = False
    ) -> m.Member:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            member = self._member_to_change(tx, org_id, member_id, reduces_admins=role is not m.Role.ADMIN)
            if member.status is m.MemberStatus.REMOVED:
                raise MemberInactive("This member was removed; their role cannot change.")
            if role is not m.Role.ADMIN:
                self._keep_an_admin(tx, member, override)
            self._set_role(tx, member, role, actor, override=override)
            return member

    def _member_to_change(self, tx: Store, org_id: str, member_id: str, *, reduces_admins: bool) -> m.Member:
        """The member, row-locked for this change. A change that can leave the organization without an Admin
        (``reduces_admins``, of a member who is an Admin) first takes the organization's admin-change lock, so
        that counting the remaining Admins and changing this one cannot interleave with another such change;
        the lock comes before the member's row, the order every such change uses."""
        member = self.found(tx.get(m.Member, org_id, member_id), "member")
        if reduces_admins and member.is_admin:
            tx.lock_admin_changes(org_id)
        member = self.found(tx.member_for_update(org_id, member_id), "member")
        if reduces_admins and member.is_admin:
            tx.lock_admin_changes(org_id)
        return member

    @staticmethod
    def _keep_an_admin(tx: Store, member: m.Member, override: bool) -> None:
        """Rule 7, counting the Admins only when the change is about one."""
        if member.is_admin:
            ensure_keeps_an_admin(member, tx.count_active_admins(member.org_id), override)

    def _set_role(self, tx: Store, member: m.Member, role: m.Role, actor: m.Actor, **details: object) -> None:
        if member.role is role:
            return
        previous = member.role
        member.role = role
        member.updated_at = self.now()
        member.version += 1
        self.audit(
            tx,
            member.org_id,
            actor,
            "member.role_changed",
            member,
            **{"from": previous.value, "to": role.value},
            **details,
        )

    def remove(
        self,
        org_id: str,
        member_id: str,
        actor: m.Actor,
        *,
        source: m.RemovalSource = m.RemovalSource.ADMIN,
        block: bool = False,
        override: bool = False,
    ) -> AccessRevoked:
        """Rule 5: revoke every project membership, end sessions, revoke API keys; resources stay."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            member = self._member_to_change(tx, org_id, member_id, reduces_admins=True)
            if member.status is m.MemberStatus.REMOVED:
                raise MemberInactive("This member was already removed.")
            if member.status is m.MemberStatus.ACTIVE:
                self._keep_an_admin(tx, member, override)
            now = self.now()
            member.status = m.MemberStatus.REMOVED
            member.removed_at = now
            member.removed_by = source
            member.updated_at = now
            member.version += 1
            result = AccessRevoked(
                member=member,
                project_access_revoked=tx.delete_project_memberships(org_id, member.id),
                sessions_ended=tx.revoke_member_sessions(org_id, member.id, now),
                api_keys_revoked=tx.revoke_member_api_keys(org_id, member.id, now)
                + revoke_keys_created_by(tx, org_id, member.id, now),
                resources_kept=tx.count_resources_created_by(org_id, member.id),
                blocked=block and self._block(tx, org_id, member.email, actor),
            )
            self.audit(
                tx, org_id, actor, "member.removed", member,
                email=member.email, source=source.value, override=override,
                project_access_revoked=result.project_access_revoked, sessions_ended=result.sessions_ended,
                api_keys_revoked=result.api_keys_revoked, resources_kept=result.resources_kept, blocked=result.blocked,
            )  # fmt: skip
            return result

    def suspend(
        self, org_id: str, member_id: str, actor: m.Actor, *, override: bool = False
    ) -> AccessRevoked:
        """Suspend: sessions end at once and API keys stop working; memberships are kept for ``restore``."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            member = self._member_to_change(tx, org_id, member_id, reduces_admins=True)
            if member.status is m.MemberStatus.REMOVED:
                raise MemberInactive("This member was removed; a removed member cannot be suspended.")
            ended = revoked = 0
            if member.status is m.MemberStatus.ACTIVE:
                self._keep_an_admin(tx, member, override)
                now = self.now()
                member.status = m.MemberStatus.SUSPENDED
                member.suspended_at = member.updated_at = now
                member.version += 1
                ended = tx.revoke_member_sessions(org_id, member.id, now)
                # Admin keys they created die; the keys they hold are only paused (restore gives those back).
                revoked = revoke_keys_created_by(tx, org_id, member.id, now)
                self.audit(
                    tx, org_id, actor, "member.suspended", member,
                    email=member.email, sessions_ended=ended, override=override, api_keys_revoked=revoked,
                )  # fmt: skip
            return AccessRevoked(member, 0, ended, revoked, tx.count_resources_created_by(org_id, member.id))

    def restore(self, org_id: str, member_id: str, actor: m.Actor) -> m.Member:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            member = self._member_to_change(tx, org_id, member_id, reduces_admins=False)
            if member.status is m.MemberStatus.REMOVED:
                raise MemberInactive("This member was removed; add them again instead of restoring.")
            if member.status is m.MemberStatus.SUSPENDED:
                member.status = m.MemberStatus.ACTIVE
                member.suspended_at = None
                member.updated_at = self.now()
                member.version += 1
                self.audit(tx, org_id, actor, "member.restored", member, email=member.email)
            return member

    # -- block list ----------------------------------------------------------------------------------------
    def _block(self, tx: Store, org_id: str, email: str, actor: m.Actor) -> bool:
        if tx.is_blocked(org_id, email):
            return True
        record = m.BlockedEmail(new_id(), org_id, email, self.now(), actor.label)
        tx.add(record)
        self.audit(tx, org_id, actor, "email.blocked", record, email=email)
        return True

    def block_email(self, org_id: str, email: str, actor: m.Actor) -> m.BlockedEmail:
        email = normalize_email(email)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            self._block(tx, org_id, email, actor)
            return self.found(tx.blocked_email(org_id, email), "blocked email")

    def unblock_email(self, org_id: str, email: str, actor: m.Actor) -> None:
        email = normalize_email(email)
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            record = self.found(tx.blocked_email(org_id, email), "blocked email")
            tx.delete(record)
            self.audit(tx, org_id, actor, "email.unblocked", record, email=email)

    def blocked_emails(self, org_id: str) -> list[m.BlockedEmail]:
        with self.db.transaction() as tx:
            return list(tx.blocked_emails(org_id))
