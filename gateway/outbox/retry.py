"""When to try a failed delivery again: exponential backoff with jitter, then the dead-letter state."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """``delay(n)`` after the n-th failed attempt is ``base * 2**(n-1)``, capped, then scaled by a random
    factor in [1 - jitter, 1] so that many messages failing together do not come back together.
    After ``max_attempts`` failures the message is dead (parked for an Admin)."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 12
    jitter: float = 0.5
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, failed_attempts: int) -> timedelta | None:
        """The wait before the next attempt, or None when the message should be dead-lettered."""
        if failed_attempts >= self.max_attempts:
            return None
        exponent = min(max(failed_attempts - 1, 0), 32)
        backoff = min(self.cap, self.base * (2**exponent))
        return backoff * (1 - self.jitter * self.rand())


WEBHOOK_RETRY = RetryPolicy()
"""About 8 hours of retries in 12 attempts (10 s, 20 s, 40 s ... capped at 1 hour)."""

EMAIL_RETRY = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=10)
