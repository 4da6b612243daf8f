"""Domain errors: a few classes with a stable ``code`` that every adapter maps once to its own protocol."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class ModeForbids(DomainError):
    """The organization's membership mode does not allow this way of joining or signing in."""

    code = "mode_forbids"


class ModeSwitchRefused(DomainError):
    code = "mode_switch_refused"


class EmailTaken(Conflict):
    code = "email_taken"


class AccountInOtherOrganization(Conflict):
    code = "account_in_other_organization"


class LastAdmin(DomainError):
    code = "last_admin"


class EmailBlocked(DomainError):
    code = "email_blocked"


class Deprovisioned(DomainError):
    """The identity provider removed this member over SCIM; sign-in must not re-create them."""

    code = "deprovisioned"


class MemberInactive(DomainError):
    code = "member_inactive"


class InvitationInvalid(DomainError):
    code = "invitation_invalid"


class InvitationExpired(InvitationInvalid):
    code = "invitation_expired"


class InvitationRevoked(InvitationInvalid):
    code = "invitation_revoked"


class InvitationUsed(InvitationInvalid):
    code = "invitation_used"


class InvitationEmailMismatch(InvitationInvalid):
    code = "invitation_email_mismatch"


class FeatureDisabled(DomainError):
    code = "feature_disabled"


class InsufficientCredits(DomainError):
    code = "insufficient_credits"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class PurchaseNotAllowed(Forbidden):
    """The organization's Admins let only Admins buy credits."""

    code = "purchase_not_allowed"


class PurchaseLimitExceeded(DomainError):
    """The purchase would take the member over the organization's monthly purchase limit per member."""

    code = "purchase_limit_exceeded"
