"""Rule 12, moving an account between organizations: when a migration may be requested and applied, and what
applying it does. Plain values in, a refusal with a stable reason (or the list of effects) out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.errors import DomainError
from gateway.domain.model import (
    Invitation,
    InvitationStatus,
    Member,
    MembershipMode,
    MemberStatus,
    Organization,
    Role,
)


class MigrationRefused(DomainError):
    """A migration cannot be requested, confirmed, approved or applied; ``code`` says why (stable)."""

    code = "migration_refused"

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


REASONS: dict[str, str] = {
    "same_organization": "The account already belongs to this organization.",
    "no_account_elsewhere": (
        "This email address has no account in another organization, so there is nothing to migrate: "
        "invite or provision the person directly."
    ),
    "account_removed": (
        "The account was removed from its organization meanwhile, so there is nothing to migrate any more: "
        "invite or provision the person directly."
    ),
    "account_suspended": (
        "The account is suspended in its current organization; an Admin there must restore it before it can move."
    ),
    "last_admin": (
        "The account is the last Admin of its current organization, which has other members: that "
        "organization must promote another Admin before the account can move."
    ),
    "email_blocked": "An Admin of this organization blocked this email address, so it cannot join.",
    "domain_owned_elsewhere": (
        "This address is in an email domain that another organization owns, so it cannot move here."
    ),
    "no_sso_connection": (
        "This organization is in sso mode without an enabled SSO connection; the person could not sign in "
        "after the move. Enable a connection first."
    ),
    "invitation_gone": (
        "The invitation this migration uses is no longer pending (revoked, expired or replaced); invite the "
        "address again and request a new migration."
    ),
    "already_requested": (
        "A migration of this account into this organization is already waiting; it can be refused to start over."
    ),
    "not_open": "This migration was already applied or refused.",
    "not_the_account_holder": "Only the person whose account this is can confirm its migration.",
    "sign_in_again": (
        "Confirm the migration by signing in again with your current sign-in: this session started before "
        "the migration was requested."
    ),
    "not_approved": (
        "An Admin of the account's current organization has not approved this migration yet (support can "
        "apply it with 'gateway account migrate')."
    ),
    "mode_changed": (
        "The organization switched its membership mode after the migration was requested; request it again "
        "under the new mode."
    ),
}


def refuse(code: str, **details: Any) -> MigrationRefused:
    return MigrationRefused(code, REASONS[code], **details)


@dataclass(frozen=True)
class MigrationFacts:
    """What the rule looks at, read inside the transaction that holds both organizations' locks."""

    email: str
    target: Organization
    source: Organization | None
    """The organization holding the live account; None when there is none."""
    source_member: Member | None
    source_other_members: int
    """Live members of the source organization besides the account."""
    source_active_admins: int
    target_blocked: bool
    domain_owner_id: str | None
    """The organization that owns (verified) the address's email domain, if any."""
    target_usable_connections: int
    pending_invitation: Invitation | None
    now: datetime
    requested_mode: MembershipMode | None = None
    """The target's mode when the migration was requested (None while requesting)."""
    invitation_id: str | None = None
    """The invitation the request relied on (invitation mode)."""


def check_migration(facts: MigrationFacts) -> None:
    """Raise ``MigrationRefused`` unless the account may move now; the order gives the most useful reason."""
    target = facts.target
    if facts.source is not None and facts.source.id == target.id:
        raise refuse("same_organization")
    member = facts.source_member
    if facts.source is None or member is None or member.status is MemberStatus.REMOVED:
        raise refuse("account_removed" if facts.requested_mode is not None else "no_account_elsewhere")
    if member.status is MemberStatus.SUSPENDED:
        raise refuse("account_suspended")
    if facts.requested_mode is not None and facts.requested_mode is not target.mode:
        raise refuse("mode_changed", mode=target.mode.value)
    if facts.domain_owner_id is not None and facts.domain_owner_id != target.id:
        raise refuse("domain_owned_elsewhere")
    if facts.target_blocked:
        raise refuse("email_blocked")
    if target.mode is MembershipMode.SSO and facts.target_usable_connections == 0:
        raise refuse("no_sso_connection")
    if target.mode is MembershipMode.INVITATION and facts.requested_mode is not None:
        # Requesting in invitation mode issues the invitation (or uses a pending one); applying needs it still.
        invitation = facts.pending_invitation
        usable = invitation is not None and invitation.status_at(facts.now) is InvitationStatus.PENDING
        if not usable or invitation is None or invitation.id != facts.invitation_id:
            raise refuse("invitation_gone")
    if member.role is Role.ADMIN and facts.source_active_admins <= 1 and facts.source_other_members > 0:
        raise refuse("last_admin")


def needs_source_approval(facts: MigrationFacts) -> bool:
    """The typical personal account (nobody else in its organization) is approved automatically."""
    return facts.source_other_members > 0


def migration_effects(facts: MigrationFacts, role: Role, *, reveal_source: bool = True) -> list[str]:
    """What applying does, in words, for the dry run (only meaningful once ``check_migration`` passed).

    The target organization's Admins do not learn which organization holds the account (rule 11's spirit:
    nothing about another organization leaks); support, and the source organization, see its name."""
    assert facts.source is not None
    source = facts.source.name if reveal_source else "their current organization"
    owner = f"{facts.source.name}'s" if reveal_source else "That organization's"
    effects = [
        f"{facts.email} leaves {source}: access to every project there is revoked, sessions end "
        "and API keys are revoked; resources they created stay there, still showing who created them.",
        f"{facts.email} joins {facts.target.name}'s Default Project as {role.value}.",
        f"{owner} credit balance stays with it.",
    ]
    if facts.target.mode is MembershipMode.SSO:
        effects.append(f"From then on they sign in through {facts.target.name}'s identity provider.")
    else:
        effects.append(
            "Their invitation is used up; they keep signing in with the platform login provider, as the same "
            "email address."
        )
    if facts.source_other_members == 0:
        effects.append(f"{source[0].upper() + source[1:]} is left without members.")
    return effects
