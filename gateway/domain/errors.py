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


class RateLimited(DomainError):
    """Too many attempts from one client address (failed tokens, sign-ins): try again in ``retry_after`` s."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class Unavailable(Exception):
    """The database cannot be reached (or stays busy) right now: the caller should try again later.

    Deliberately not a ``DomainError``: nothing about the request is wrong, so no handler that turns domain
    errors into refusals may swallow it. Every adapter's error mapper answers it with 503 and ``Retry-After``
    (``retry_after`` seconds)."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.retryable = retryable


class AddressDomainOwned(Conflict):
    """The address is in an email domain another organization proved it owns (rule 11). The message never
    says whether an account with this address exists anywhere."""

    code = "address_domain_owned"


class PublicMailDomain(InvalidInput):
    """Public mail domains (gmail.com, outlook.com, ...) belong to no organization and can never be claimed."""

    code = "public_mail_domain"


class DomainNotProven(DomainError):
    """The DNS check did not find the claim's TXT record (or the claim expired before it was proven)."""

    code = "domain_not_proven"


class PurchaseNotAllowed(Forbidden):
    """The organization's Admins let only Admins buy credits."""

    code = "purchase_not_allowed"


class PurchaseLimitExceeded(DomainError):
    """The purchase would take the member over the organization's monthly purchase limit per member."""

    code = "purchase_limit_exceeded"
