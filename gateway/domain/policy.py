"""The membership rules of DESIGN.md, as functions of plain values (time is passed in, never read)."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.domains import ADDRESS_DOMAIN_OWNED
from gateway.domain.errors import (
    AddressDomainOwned,
    Deprovisioned,
    EmailBlocked,
    InsufficientCredits,
    InvalidInput,
    InvitationEmailMismatch,
    InvitationExpired,
    InvitationRevoked,
    InvitationUsed,
    LastAdmin,
    MemberInactive,
    ModeForbids,
)
from gateway.domain.model import (
    Invitation,
    InvitationStatus,
    JoinPath,
    Member,
    MembershipMode,
    MemberStatus,
    Organization,
    RemovalSource,
    Role,
    ScimToken,
    SsoConnection,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"[^a-z0-9]+")
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn"}

MODE_MESSAGES = {
    (MembershipMode.SSO, JoinPath.INVITATION): (
        "This organization signs people in through its identity provider (SSO mode); "
        "invitations cannot be created, resent or accepted."
    ),
    (MembershipMode.INVITATION, JoinPath.SCIM): (
        "This organization is in invitation mode; SCIM provisioning is disabled. "
        "An Admin must switch the organization to SSO mode first."
    ),
    (MembershipMode.INVITATION, JoinPath.JIT): (
        "This organization is in invitation mode; single sign-on through an identity provider is disabled. "
        "Sign in with the platform login provider instead."
    ),
}


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed address; raises InvalidInput for anything that is not an address.

    Control, format and surrogate characters are refused too: they make look-alike addresses, and a NUL or
    an unpaired surrogate (both reachable through JSON escapes) cannot even be stored."""
    value = (email or "").strip().lower()
    if (
        len(value) > 320
        or not _EMAIL.match(value)
        or any(unicodedata.category(c) in _UNPRINTABLE for c in value)
    ):
        raise InvalidInput(f"{email!r} is not a valid email address.", field="email")
    return value


def email_domain(email: str) -> str:
    return normalize_email(email).rsplit("@", 1)[1]


def slugify(name: str) -> str:
    """A lowercase label of at most 63 characters (a-z, 0-9, inner hyphens) for URLs and CLI arguments."""
    slug = _SLUG.sub("-", name.strip().lower()).strip("-")
    if not slug:
        raise InvalidInput("A name must contain at least one letter or digit.", field="name")
    return slug[:63].rstrip("-")


def require_mode_allows(org: Organization, path: JoinPath) -> None:
    """Rule 1: SCIM and SSO sign-in only in ``sso`` mode, invitations only in ``invitation`` mode."""
    message = MODE_MESSAGES.get((org.mode, path))
    if message:
        raise ModeForbids(message, mode=org.mode.value, path=path.value)


def check_invitation_acceptable(
    org: Organization, invitation: Invitation, verified_email: str, now: datetime
) -> None:
    """Rule 3: single use, not revoked, not expired, and only for the invited (verified) email."""
    require_mode_allows(org, JoinPath.INVITATION)
    status = invitation.status_at(now)
    if status is InvitationStatus.ACCEPTED:
        raise InvitationUsed("This invitation has already been used.")
    if status is InvitationStatus.REVOKED:
        raise InvitationRevoked(
            "This invitation was revoked or replaced by a newer one; ask an Admin to resend it."
        )
    if status is InvitationStatus.EXPIRED:
        raise InvitationExpired(
            "This invitation has expired; invitations are valid for 7 days. Ask an Admin to resend it."
        )
    if normalize_email(verified_email) != invitation.email:
        raise InvitationEmailMismatch(
            "This invitation was sent to a different email address; sign in with the invited address.",
            invited=_mask(invitation.email),
        )


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def ensure_keeps_an_admin(member: Member, active_admins: int, override: bool) -> None:
    """Rule 7: an organization never loses its last active Admin unless the caller explicitly overrides."""
    if member.is_admin and active_admins <= 1 and not override:
        raise LastAdmin(
            "This member is the organization's last Admin; promote another Admin first "
            "or repeat the request with an explicit override.",
            member_id=member.id,
        )


class JitOutcome(enum.StrEnum):
    SIGN_IN = "sign_in"
    CREATE = "create"
    RESTORE = "restore"


def decide_sso_sign_in(
    org: Organization,
    existing: Member | None,
    *,
    blocked: bool,
    domain_verified: bool,
    owned_elsewhere: bool = False,
) -> JitOutcome:
    """Rules 1, 6 and 11: who an SSO sign-in signs in, creates just in time, brings back, or refuses.
    ``owned_elsewhere``: another organization verified the email's domain, so no new account here."""
    require_mode_allows(org, JoinPath.JIT)
    if existing is not None:
        if existing.status is MemberStatus.ACTIVE:
            return JitOutcome.SIGN_IN
        if existing.status is MemberStatus.SUSPENDED:
            raise MemberInactive("Your access to this organization is suspended. Contact your Admin.")
        if existing.removed_by is RemovalSource.SCIM:
            raise Deprovisioned("Your identity provider removed your access to this organization.")
    if blocked:
        raise EmailBlocked("An Admin of this organization blocked this email address from joining.")
    if owned_elsewhere:
        raise AddressDomainOwned(ADDRESS_DOMAIN_OWNED, field="email")
    if not domain_verified:
        raise ModeForbids("This email domain is not verified for the organization, so it cannot join by SSO.")
    return JitOutcome.CREATE if existing is None else JitOutcome.RESTORE


@dataclass
class ModeSwitchPlan:
    """What switching the membership mode would do (the dry run), or why it is refused."""

    org_id: str
    from_mode: MembershipMode
    to_mode: MembershipMode
    refusal: str | None = None
    invitations_to_revoke: list[str] = field(default_factory=list)
    scim_tokens_to_suspend: list[str] = field(default_factory=list)
    scim_tokens_to_restore: list[str] = field(default_factory=list)
    connections_to_suspend: list[str] = field(default_factory=list)
    connections_to_restore: list[str] = field(default_factory=list)
    members_kept: int = 0
    warnings: list[str] = field(default_factory=list)
    """Not refusals: things the Admin should know before confirming (e.g. no connection was tested)."""

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def effects(self) -> list[str]:
        if not self.allowed:
            return []
        if self.from_mode is self.to_mode:
            return ["Nothing changes: the organization is already in this mode."]
        lines = [f"Membership mode changes from {self.from_mode.value} to {self.to_mode.value}."]
        if self.to_mode is MembershipMode.SSO:
            lines.append(f"{len(self.invitations_to_revoke)} pending invitation(s) will be revoked.")
            lines.append(f"{len(self.connections_to_restore)} SSO connection(s) will be re-enabled.")
            lines.append(f"{len(self.scim_tokens_to_restore)} SCIM token(s) will be re-enabled.")
            lines.append(
                f"{self.members_kept} existing member(s) stay and are linked to their identity-provider "
                "identity by verified email at their first SCIM push or SSO sign-in."
            )
        else:
            lines.append(f"{len(self.scim_tokens_to_suspend)} SCIM token(s) will be disabled (kept).")
            lines.append(f"{len(self.connections_to_suspend)} SSO connection(s) will be disabled (kept).")
            lines.append(
                f"{self.members_kept} existing member(s) stay and sign in through the platform login provider."
            )
        return lines


def plan_mode_switch(
    org: Organization,
    target: MembershipMode,
    *,
    connections: Sequence[SsoConnection],
    scim_tokens: Sequence[ScimToken],
    pending_invitations: Sequence[Invitation],
    members_kept: int,
) -> ModeSwitchPlan:
    """Rule 2: the effects of switching ``org`` to ``target``, or the reason it is refused."""
    plan = ModeSwitchPlan(org.id, org.mode, target, members_kept=members_kept)
    if org.mode is target:
        return plan
    if target is MembershipMode.SSO:
        if not any(c.enabled for c in connections):
            plan.refusal = (
                "The organization has no enabled SSO connection. Add a SAML or OIDC connection "
                "to its identity provider before switching to SSO mode."
            )
            return plan
        plan.invitations_to_revoke = [i.id for i in pending_invitations]
        plan.connections_to_restore = [c.id for c in connections if c.suspended]
        plan.scim_tokens_to_restore = [t.id for t in scim_tokens if t.suspended and t.revoked_at is None]
    else:
        plan.connections_to_suspend = [c.id for c in connections if not c.suspended]
        plan.scim_tokens_to_suspend = [t.id for t in scim_tokens if t.is_usable]
    return plan


def role_from_value(value: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise InvalidInput(f"Unknown role {value!r}; use 'admin' or 'member'.", field="role") from None


def mode_from_value(value: str) -> MembershipMode:
    try:
        return MembershipMode(str(value).strip().lower())
    except ValueError:
        raise InvalidInput(
            f"Unknown membership mode {value!r}; use 'sso' or 'invitation'.", field="mode"
        ) from None


MAX_CREDITS_PER_ENTRY = 10_000_000


def check_credit_amount(credits: int) -> int:
    """Rule 9: credits move in positive whole amounts, bounded so a typo cannot mint a fortune."""
    if isinstance(credits, bool) or not isinstance(credits, int) or not 0 < credits <= MAX_CREDITS_PER_ENTRY:
        raise InvalidInput(
            f"Credits must be a whole number from 1 to {MAX_CREDITS_PER_ENTRY:,}.", field="credits"
        )
    return credits


def check_can_spend(balance: int, credits: int) -> None:
    """Usage is drawn from the organization's one balance; it never goes below zero."""
    if credits > balance:
        raise InsufficientCredits(
            f"The organization has {balance} credit(s); this usage needs {credits}. Any member can buy more.",
            balance=balance,
            needed=credits,
        )
