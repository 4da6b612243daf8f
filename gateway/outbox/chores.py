"""Periodic maintenance the delivery worker runs between batches (refreshing SAML metadata, purging old log
rows): each chore runs at most once per ``every`` by the worker's clock, and a failing chore is logged without
stopping deliveries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

log = logging.getLogger("gateway.outbox.chores")


@dataclass
class Chore:
    name: str
    every: timedelta
    run: Callable[[], object]
    last_run: datetime | None = field(default=None)

    def run_if_due(self, now: datetime) -> bool:
        """Run when due; returns whether it ran (a failure counts as a run, so it is retried next period)."""
        if self.last_run is not None and now - self.last_run < self.every:
            return False
        self.last_run = now
        try:
            self.run()
        except Exception:
            log.exception(f"periodic chore {self.name} failed; it runs again in {self.every}")
        return True
