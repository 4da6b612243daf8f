"""Rule 9's purchase policy: whether Members (not only Admins) may buy credits for the organization, and how
many credits one member may buy per calendar month (UTC). Plain values in; time passed in."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.domain.errors import InvalidInput, PurchaseLimitExceeded, PurchaseNotAllowed
from gateway.domain.model import Role
from gateway.domain.policy import MAX_CREDITS_PER_ENTRY

MAX_MONTHLY_LIMIT = 1_000 * MAX_CREDITS_PER_ENTRY


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """``[first instant of the month, first instant of the next)`` in UTC."""
    if not 1 <= month <= 12 or not 2000 <= year <= 9998:
        raise InvalidInput("A month is YYYY-MM, e.g. 2026-11.", field="month")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    moment = moment.astimezone(UTC)
    return month_bounds(moment.year, moment.month)


def parse_month(value: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); anything else is a clear error."""
    text = (value or "").strip()
    year, sep, month = text.partition("-")
    if not (sep and len(year) == 4 and len(month) == 2 and year.isdigit() and month.isdigit()):
        raise InvalidInput("A month is YYYY-MM, e.g. 2026-11.", field="month")
    month_bounds(int(year), int(month))
    return int(year), int(month)


def check_monthly_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_MONTHLY_LIMIT:
        raise InvalidInput(
            f"The monthly limit per member is a whole number of credits from 0 to {MAX_MONTHLY_LIMIT:,}, "
            "or none for no limit.",
            field="monthly_limit_per_member",
        )
    return limit


def check_purchase(
    role: Role,
    *,
    members_may_purchase: bool,
    monthly_limit: int | None,
    bought_this_month: int,
    credits: int,
) -> None:
    """Refuse a purchase the organization's Admins ruled out, with the reason and what is still possible."""
    if role is not Role.ADMIN and not members_may_purchase:
        raise PurchaseNotAllowed(
            "The Admins of this organization allow only Admins to buy credits. Ask an Admin to buy them.",
        )
    if monthly_limit is not None and bought_this_month + credits > monthly_limit:
        remaining = max(0, monthly_limit - bought_this_month)
        raise PurchaseLimitExceeded(
            f"This purchase would exceed the monthly limit of {monthly_limit:,} credits per member: you bought "
            f"{bought_this_month:,} this month, so at most {remaining:,} more until the month ends.",
            field="credits",
            limit=monthly_limit,
            bought_this_month=bought_this_month,
            remaining=remaining,
        )
