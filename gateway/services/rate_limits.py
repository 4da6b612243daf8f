"""Abuse limits: how many attempts of one kind a client address may make in a window, counted with the
``limits`` library in storage every gateway process shares (Redis in production, ``GATEWAY_RATE_LIMIT_STORAGE``;
process memory on the embedded default).

Each limit has a name (``bearer`` for failed SCIM/API tokens, ``login``, ``invitation`` for failed invitation
tokens, ``acs``) and a rate in the ``limits`` notation (``20/minute``, ``100 per hour``). Adapters ``check``
before the work and ``hit`` for each attempt that counts; ``RateLimited`` carries the seconds until the window
lets the client in again (the ``Retry-After`` of every protocol's answer).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.domain.errors import RateLimited

log = logging.getLogger("gateway.rate_limits")

LIMIT_NAMES = ("bearer", "login", "invitation", "acs")
MESSAGE = "Too many attempts from your address. Try again in {seconds} seconds."


class RateLimitConfigError(ValueError):
    pass


def parse_rate(name: str, rate: str) -> RateLimitItem:
    """A rate such as ``20/minute``; ``RateLimitConfigError`` naming the setting otherwise."""
    try:
        return parse(rate)
    except (ValueError, ConfigurationError):
        raise RateLimitConfigError(
            f"rate_limit_{name} must be a rate like '20/minute', got {rate!r}"
        ) from None


@dataclass(frozen=True)
class AbuseLimits:
    """The configured limits over one shared storage. ``prefix`` keeps one deployment's (or test run's)
    counters apart from another's in a shared Redis."""

    limiter: MovingWindowRateLimiter
    rates: Mapping[str, RateLimitItem]
    prefix: str = "gateway"
    wall_clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(
        cls, storage_url: str, rates: Mapping[str, str], prefix: str = "gateway"
    ) -> AbuseLimits:
        try:
            storage: Storage = storage_from_string(storage_url or "memory://")
        except (ConfigurationError, ValueError) as error:
            raise RateLimitConfigError(f"GATEWAY_RATE_LIMIT_STORAGE is not usable: {error}") from None
        parsed = {name: parse_rate(name, rate) for name, rate in rates.items()}
        return cls(MovingWindowRateLimiter(storage), parsed, prefix)

    def _ids(self, name: str, key: str) -> tuple[str, str, str]:
        return (self.prefix, name, key or "unknown")

    def _retry_after(self, name: str, key: str) -> int:
        stats = self.limiter.get_window_stats(self.rates[name], *self._ids(name, key))
        return max(1, math.ceil(stats.reset_time - self.wall_clock()))

    def check(self, name: str, key: str) -> None:
        """``RateLimited`` when ``key`` has used up limit ``name``; nothing is counted."""
        item = self.rates.get(name)
        if item is None:
            return
        try:
            allowed = self.limiter.test(item, *self._ids(name, key))
            retry_after = 0 if allowed else self._retry_after(name, key)
        except Exception:  # storage down: fail open, loudly, rather than lock every client out
            log.warning("rate limit storage unavailable; %s not limited", name, exc_info=True)
            return
        if not allowed:
            raise RateLimited(MESSAGE.format(seconds=retry_after), retry_after=retry_after, limit=name)

    def hit(self, name: str, key: str) -> None:
        """Count one attempt of ``key`` against limit ``name``."""
        item = self.rates.get(name)
        if item is None:
            return
        try:
            self.limiter.hit(item, *self._ids(name, key))
        except Exception:
            log.warning("rate limit storage unavailable; %s attempt not counted", name, exc_info=True)

    def take(self, name: str, key: str) -> None:
        """Check, then count this attempt (limits that count every request, not only failures)."""
        self.check(name, key)
        self.hit(name, key)
