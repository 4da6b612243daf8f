"""SCIM provisioning use cases: users (members of the token's organization) and groups, and the Admin's
group -> role mappings. Each public method is one transaction.

Product rules stay in ``MemberService``: joining the Default Project, suspension and restore, removal with
access revoked, role changes guarded by last-admin protection (never overridden from SCIM), audit. This
service calls those use cases *inside its own transaction* (see ``_InTransaction``), so a SCIM request that
creates a member, stores their attributes and suspends them either happens entirely or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import groups as g
from gateway.domain import model as m
from gateway.domain.errors import AccountInOtherOrganization, Conflict, InvalidInput, NotFound
from gateway.domain.policy import normalize_email, require_mode_allows
from gateway.services.base import ServiceBase, new_id
from gateway.services.domains import address_domains, identity_addresses, require_identity_allowed
from gateway.services.members import ACCOUNT_ELSEWHERE, MemberService, Profile
from gateway.storage.constraints import register_constraint_error
from gateway.storage.scim_store import ScimStore
from gateway.storage.store import Store

register_constraint_error(
    ("uq_members_org_user_name_live",),
    lambda: Conflict("A user with this userName already exists.", field="userName"),
)


@dataclass(frozen=True)
class UserRecord:
    """A user as the identity provider describes it, already validated by the protocol adapter.

    ``attributes`` is the representation the IdP gets back (phone numbers, the enterprise extension, the
    emails and roles as sent ...); the other fields are what the product interprets. ``active`` and
    ``roles`` are ``None`` when the IdP did not send them."""

    user_name: str
    external_id: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)
    active: bool | None = None
    roles: list[str] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserView:
    member: m.Member
    groups: list[tuple[str, str]]


@dataclass(frozen=True)
class GroupRecord:
    display_name: str
    external_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupChanges:
    """A PATCH on a group: new scalar values (``record``) and membership deltas, applied in this order:
    ``replace_members`` (or ``remove_all``), then ``remove``, ``remove_matching``, ``add``. Only the named
    memberships are read or written, so one add or remove costs the same in a group of 10 or 100,000."""

    record: GroupRecord | None = None
    displays: dict[str, str] = field(default_factory=dict)
    replace_members: list[str] | None = None
    remove_all: bool = False
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    remove_matching: list[g.Filter] = field(default_factory=list)


@dataclass(frozen=True)
class GroupView:
    group: g.Group
    members: list[tuple[m.Member, str | None]] | None


class _InTransaction:
    """A stand-in for ``Database`` whose ``transaction()`` yields an already open transaction, so that
    ``MemberService``'s use cases run as steps of a provisioning use case (commit or rollback stays with the
    caller)."""

    def __init__(self, tx: Store) -> None:
        self._tx = tx

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        yield self._tx


@contextmanager
def _naming_user_name(record: UserRecord) -> Iterator[None]:
    """A userName another live user holds (the database's unique index decides, also between two concurrent
    requests) is refused naming it."""
    try:
        yield
    except Conflict as exc:
        if exc.details.get("field") == "userName":
            raise _user_name_taken(record) from exc
        raise


def _user_name_taken(record: UserRecord) -> Conflict:
    return Conflict(f"A user with userName {record.user_name!r} already exists.", field="userName")


def _claimed_role(attributes: dict[str, Any]) -> m.Role | None:
    roles = attributes.get("roles")
    if roles is None:
        return None
    return g.role_claim(r.get("value", "") if isinstance(r, dict) else r for r in roles)


class ProvisioningService(ServiceBase):
    # -- plumbing ------------------------------------------------------------------------------------------
    def _members(self, tx: Store) -> MemberService:
        return MemberService(_InTransaction(tx), self.clock, self.tokens, self.listeners)  # type: ignore[arg-type]

    def _open(self, tx: Store, org_id: str) -> tuple[m.Organization, ScimStore]:
        """Lock the organization (serializes membership changes and uniqueness checks) and apply rule 1."""
        org = self.locked_org(tx, org_id)
        require_mode_allows(org, m.JoinPath.SCIM)
        return org, ScimStore(tx)

    @staticmethod
    def _check_version(current: int, expected: int | None) -> None:
        if expected is not None and current != expected:
            raise g.VersionMismatch(
                "The resource changed since it was read (its version does not match If-Match).",
                current=current,
            )

    # -- users ---------------------------------------------------------------------------------------------
    def get_user(self, org_id: str, member_id: str, *, for_change: bool = False) -> UserView:
        """A user with its groups; ``for_change`` (a PATCH reading what it will write back in the same
        transaction) locks the user's row instead and skips the groups, which a write reads back anyway."""
        with self.db.transaction(write=for_change) as tx:
            store = ScimStore(tx)
            member = self.found(store.user(org_id, member_id, lock=for_change), "user")
            if for_change:
                return UserView(member, [])
            return UserView(member, store.groups_of_members(org_id, [member.id])[member.id])

    def list_users(self, org_id: str, query: g.Query) -> tuple[list[UserView], int]:
        with self.db.transaction(write=False) as tx:
            found, total = ScimStore(tx).users_with_groups(org_id, query)
            return [UserView(member, groups) for member, groups in found], total

    def create_user(self, org_id: str, record: UserRecord, actor: m.Actor) -> UserView:
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            email = g.email_from_identity(record.emails, record.user_name) or g.placeholder_email(new_id())
            # Usually every address is in the email's domain: the query that reads the member checks it (rule 11).
            domains = address_domains(*identity_addresses(record.user_name, record.emails))
            one_domain = domains <= address_domains(email)
            if not one_domain:
                require_identity_allowed(tx, org.id, record.user_name, record.emails)
            claimed = g.role_claim(record.roles) if record.roles is not None else None
            profile = Profile(
                record.display_name,
                record.given_name,
                record.family_name,
                record.user_name,
                record.external_id,
                attributes=dict(record.attributes),
            )
            members = self._members(tx)
            with _naming_user_name(record):
                member, created = members.provision_member(
                    org.id,
                    email,
                    g.resolve_role(claimed, [], m.Role.MEMBER),
                    actor,
                    profile,
                    check_domain=one_domain,
                )
            if not created:
                self._apply_user(tx, store, org, member, record, actor)
                return UserView(member, store.groups_of_members(org.id, [member.id])[member.id])
            # A new member: no addresses to replace, no groups for a mapping to decide a role from (the role
            # resolved from the claim above is final), so nothing is read back. Its row may wait for the commit
            # (SQLite's write lock, ``Store.insert_new``), where a userName another live user holds is refused.
            tx.name_conflicts("userName", _user_name_taken(record))
            store.set_user_emails(org.id, member.id, record.emails, replace=False)
            if record.active is False:
                members.suspend(org.id, member.id, actor)
            return UserView(member, [])

    @staticmethod
    def _written(tx: Store, record: UserRecord) -> None:
        """Send the user's rows now, so that a userName another live user holds (the database's unique index
        decides, also between two concurrent requests) is refused here, naming it."""
        with _naming_user_name(record):
            tx.flush()

    def replace_user(
        self,
        org_id: str,
        member_id: str,
        record: UserRecord,
        actor: m.Actor,
        *,
        if_version: int | None = None,
    ) -> UserView:
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            member = self.found(store.user(org.id, member_id, lock=True), "user")
            self._check_version(member.version, if_version)
            require_identity_allowed(tx, org.id, record.user_name, record.emails, held=member)
            self._apply_user(tx, store, org, member, record, actor)
            self.audit(tx, org.id, actor, "member.scim_updated", member, email=member.email, via="scim")
            self._written(tx, record)
            return UserView(member, store.groups_of_members(org.id, [member.id])[member.id])

    def delete_user(
        self, org_id: str, member_id: str, actor: m.Actor, *, if_version: int | None = None
    ) -> None:
        """SCIM DELETE: the member is removed (rule 5) and leaves every IdP group; resources stay."""
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            member = self.found(store.user(org.id, member_id, lock=True), "user")
            self._check_version(member.version, if_version)
            self._members(tx).remove(org.id, member.id, actor, source=m.RemovalSource.SCIM)
            store.remove_from_all_groups(org.id, member.id)
            store.set_user_emails(org.id, member.id, [])

    def _apply_user(
        self,
        tx: Store,
        store: ScimStore,
        org: m.Organization,
        member: m.Member,
        record: UserRecord,
        actor: m.Actor,
    ) -> None:
        with tx.session.no_autoflush:
            # Every change to the member goes out as one UPDATE at the end, not one per step.
            self._apply_user_changes(tx, store, org, member, record, actor)
        self._written(tx, record)

    def _apply_user_changes(
        self,
        tx: Store,
        store: ScimStore,
        org: m.Organization,
        member: m.Member,
        record: UserRecord,
        actor: m.Actor,
    ) -> None:
        members = self._members(tx)
        had_claim = _claimed_role(member.attributes or {}) is not None
        member.user_name = record.user_name
        member.external_id = record.external_id
        member.display_name = record.display_name
        member.given_name = record.given_name
        member.family_name = record.family_name
        member.attributes = dict(record.attributes)
        member.scim_linked = True
        member.updated_at = self.now()
        member.version += 1
        self._change_email(tx, org, member, g.email_from_identity(record.emails, record.user_name), actor)
        store.set_user_emails(org.id, member.id, record.emails)
        if record.active is False and member.status is m.MemberStatus.ACTIVE:
            members.suspend(org.id, member.id, actor)
        elif record.active is not False and member.status is m.MemberStatus.SUSPENDED:
            # ``active`` unassigned (a PUT without it, a PATCH removing it) means the default: active.
            members.restore(org.id, member.id, actor)
        # An IdP that stops sending roles withdraws its claim: the member falls back to Member (unless a
        # group mapping says otherwise) instead of keeping a role nobody asserts any more.
        withdrawn = {member.id} if had_claim and record.roles is None else set()
        self._sync_roles(tx, store, org.id, [member.id], actor, withdrawn=withdrawn)

    def _change_email(
        self, tx: Store, org: m.Organization, member: m.Member, wanted: str | None, actor: m.Actor
    ) -> None:
        """The member's email follows the IdP (see ``email_from_identity``); an IdP that stops sending any
        address leaves the last known one in place."""
        if wanted is None:
            return
        email = normalize_email(wanted)
        if email == member.email:
            return
        if tx.live_account_elsewhere(org.id, email) is not None:
            raise AccountInOtherOrganization(ACCOUNT_ELSEWHERE, email=email)
        if tx.member_by_email(org.id, email) is not None:
            raise Conflict(
                "Another member of this organization already has this email address.", field="emails"
            )
        previous, member.email = member.email, email
        self.audit(tx, org.id, actor, "member.email_changed", member, **{"from": previous, "to": email})

    def _sync_roles(
        self,
        tx: Store,
        store: ScimStore,
        org_id: str,
        member_ids: Sequence[str],
        actor: m.Actor,
        *,
        withdrawn: set[str] | None = None,
    ) -> None:
        """Give each member the role the IdP's ``roles`` and the org's group mappings decide (rule 7); a
        demotion that would leave no Admin is refused (no override through SCIM)."""
        if not member_ids:
            return
        has_mappings = bool(store.role_mappings(org_id))
        mapped = store.mapped_roles(org_id, member_ids) if has_mappings else {i: [] for i in member_ids}
        members = self._members(tx)
        for member_id in member_ids:
            member = tx.get(m.Member, org_id, member_id)
            if member is None or member.status is m.MemberStatus.REMOVED:
                continue
            from_groups = mapped[member_id] or ([m.Role.MEMBER] if has_mappings else [])
            claimed = _claimed_role(member.attributes)
            if claimed is None and member_id in (withdrawn or set()):
                claimed = m.Role.MEMBER
            role = g.resolve_role(claimed, from_groups, member.role)
            if role is not member.role:
                members.change_role(org_id, member.id, role, actor)

    # -- groups --------------------------------------------------------------------------------------------
    def get_group(self, org_id: str, group_id: str, *, with_members: bool = True) -> GroupView:
        with self.db.transaction() as tx:
            store = ScimStore(tx)
            group = self.found(store.group(org_id, group_id), "group")
            listed = store.group_members(org_id, [group.id])[group.id] if with_members else None
            return GroupView(group, listed)

    def list_groups(
        self, org_id: str, query: g.Query, *, with_members: bool = True
    ) -> tuple[list[GroupView], int]:
        with self.db.transaction() as tx:
            store = ScimStore(tx)
            found, total = store.groups(org_id, query)
            listed = store.group_members(org_id, [x.id for x in found]) if with_members else {}
            return [GroupView(x, listed.get(x.id) if with_members else None) for x in found], total

    def create_group(
        self,
        org_id: str,
        record: GroupRecord,
        member_ids: Sequence[str],
        actor: m.Actor,
        displays: dict[str, str] | None = None,
    ) -> GroupView:
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            self._check_name_free(store, org.id, record.display_name, None)
            now = self.now()
            group = g.Group(
                id=new_id(), org_id=org.id, display_name=record.display_name, created_at=now, updated_at=now,
                external_id=record.external_id, attributes=dict(record.attributes),
            )  # fmt: skip
            tx.add(group)
            tx.flush(f"A group named {record.display_name!r} already exists.")
            self._require_users(store, org.id, member_ids)
            added = store.add_group_members(org.id, group.id, member_ids, now, displays)
            self.audit(tx, org.id, actor, "group.created", group, name=group.display_name, added=added)
            self._sync_group_roles(tx, store, org.id, [group.display_name], added, actor)
            return GroupView(group, store.group_members(org.id, [group.id])[group.id])

    def replace_group(
        self,
        org_id: str,
        group_id: str,
        record: GroupRecord,
        member_ids: Sequence[str],
        actor: m.Actor,
        *,
        displays: dict[str, str] | None = None,
        if_version: int | None = None,
    ) -> GroupView:
        changes = GroupChanges(record=record, replace_members=list(member_ids), displays=displays or {})
        self.update_group(org_id, group_id, changes, actor, if_version=if_version)
        return self.get_group(org_id, group_id)

    def update_group(
        self,
        org_id: str,
        group_id: str,
        changes: GroupChanges,
        actor: m.Actor,
        *,
        if_version: int | None = None,
    ) -> g.Group:
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            group = self.found(store.group(org.id, group_id, lock=True), "group")
            self._check_version(group.version, if_version)
            now = self.now()
            names = [group.display_name]
            if changes.record is not None:
                record = changes.record
                if record.display_name.lower() != group.display_name.lower():
                    self._check_name_free(store, org.id, record.display_name, group.id)
                group.display_name = record.display_name
                group.external_id = record.external_id
                group.attributes = dict(record.attributes)
                names.append(group.display_name)
            added: list[str] = []
            removed: list[str] = []
            if changes.replace_members is not None or changes.remove_all:
                wanted = [] if changes.remove_all else list(dict.fromkeys(changes.replace_members or []))
                self._require_users(store, org.id, wanted)
                current = store.group_member_ids(org.id, group.id)
                removed += store.remove_group_members(
                    org.id, group.id, [x for x in current if x not in set(wanted)]
                )
                added += store.add_group_members(
                    org.id, group.id, [x for x in wanted if x not in current], now, changes.displays
                )
            if changes.remove:
                removed += store.remove_group_members(org.id, group.id, changes.remove)
            for expr in changes.remove_matching:
                removed += store.remove_group_members(
                    org.id, group.id, store.group_members_matching(org.id, group.id, expr)
                )
            if changes.add:
                self._require_users(store, org.id, changes.add)
                added += store.add_group_members(org.id, group.id, changes.add, now, changes.displays)
            group.updated_at = now
            group.version += 1
            tx.flush(f"A group named {group.display_name!r} already exists.")
            self.audit(
                tx, org.id, actor, "group.updated", group,
                name=group.display_name, renamed=len(set(n.lower() for n in names)) > 1, added=added, removed=removed,
            )  # fmt: skip
            affected = list(dict.fromkeys([*added, *removed]))
            if len({n.lower() for n in names}) > 1:
                affected = list(dict.fromkeys([*affected, *store.group_member_ids(org.id, group.id)]))
            self._sync_group_roles(tx, store, org.id, names, affected, actor)
            return group

    def delete_group(
        self, org_id: str, group_id: str, actor: m.Actor, *, if_version: int | None = None
    ) -> None:
        with self.db.transaction() as tx:
            org, store = self._open(tx, org_id)
            group = self.found(store.group(org.id, group_id, lock=True), "group")
            self._check_version(group.version, if_version)
            former = sorted(store.group_member_ids(org.id, group.id))
            store.remove_group_members(org.id, group.id, former)
            tx.delete(group)
            tx.flush()
            self.audit(
                tx, org.id, actor, "group.deleted", group, name=group.display_name, members=len(former)
            )
            self._sync_group_roles(tx, store, org.id, [group.display_name], former, actor)

    @staticmethod
    def _check_name_free(store: ScimStore, org_id: str, name: str, group_id: str | None) -> None:
        existing = store.group_by_name(org_id, name)
        if existing is not None and existing.id != group_id:
            raise Conflict(f"A group named {name!r} already exists.", field="displayName")

    @staticmethod
    def _require_users(store: ScimStore, org_id: str, member_ids: Sequence[str]) -> None:
        missing = set(member_ids) - store.live_member_ids(org_id, member_ids)
        if missing:
            sample = ", ".join(sorted(missing)[:5])
            raise InvalidInput(
                f"Group members must be users of this organization; unknown user id(s): {sample}.",
                field="members",
            )

    def _sync_group_roles(
        self,
        tx: Store,
        store: ScimStore,
        org_id: str,
        group_names: Sequence[str],
        member_ids: Sequence[str],
        actor: m.Actor,
    ) -> None:
        """Membership of a group only matters for roles when an Admin mapped the group's name to a role."""
        if member_ids and any(store.role_mapping(org_id, name) is not None for name in group_names):
            self._sync_roles(tx, store, org_id, member_ids, actor)

    # -- group -> role mappings ----------------------------------------------------------------------------
    def role_mappings(self, org_id: str) -> list[g.GroupRoleMapping]:
        with self.db.transaction() as tx:
            return list(ScimStore(tx).role_mappings(org_id))

    def map_group_to_role(self, org_id: str, group_name: str, role: m.Role | None, actor: m.Actor) -> None:
        """Admin action: members of the IdP group named ``group_name`` get ``role`` (``None`` deletes the
        mapping). Members already in that group get their role now; others at their next SCIM update."""
        name = (group_name or "").strip()
        if not name or len(name) > 256:
            raise InvalidInput("A group name must be 1 to 256 characters.", field="group_name")
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            store = ScimStore(tx)
            mapping = store.role_mapping(org_id, name)
            if role is None:
                if mapping is None:
                    raise NotFound("No mapping for this group name.")
                tx.delete(mapping)
                tx.flush()
            elif mapping is None:
                tx.add(g.GroupRoleMapping(new_id(), org_id, name, role, self.now()))
                tx.flush()
            else:
                mapping.role = role
            self.audit(
                tx, org_id, actor, "group_role_mapping.changed", None,
                group_name=name, role=role.value if role else None,
            )  # fmt: skip
            self._sync_roles(tx, store, org_id, store.members_of_group_named(org_id, name), actor)
