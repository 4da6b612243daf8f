"""A queue for SQLite's writers, across threads and processes.

SQLite lets one writer in at a time; the others, told the database is busy, sleep and try again, in steps that
grow to 100 ms. Under a sync from 16 connections over several processes that sleeping, not the work, sets the
pace. Writers therefore queue before ``BEGIN IMMEDIATE``, which then finds the database free:

- the threads of one process on a lock of the process, which the kernel hands to the next thread the moment it
  is released;
- the processes on an exclusive ``flock`` on a file beside the database. ``flock`` cannot wait with a time limit,
  so the one thread of each process that waits for it tries again after short pauses (50 µs, growing to 0.5 ms;
  to 2 ms once it has waited 50 ms). Pauses that grew to 4 ms left the database idle for a third of a sync's time
  on SQLite.

The queue is a courtesy on top of SQLite's own lock: a writer that cannot get its place within the busy timeout
goes ahead anyway and SQLite decides, as before. The kernel releases a ``flock`` when its process dies.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass

TIMEOUT = 30.0
FIRST_PAUSE = 0.00005
SHORT_PAUSE = 0.0005
LONG_PAUSE = 0.002
LONG_WAIT = 0.05


@dataclass
class Place:
    """A writer's place at the head of the queue, held until ``WriteQueue.release``."""

    fd: int | None
    local: threading.Lock | None


class WriteQueue:
    def __init__(self, database_path: str) -> None:
        self.path = database_path + ".writers"
        self._threads = threading.Lock()

    def acquire(self) -> Place | None:
        """The head of the queue, or ``None`` when it could not be had within ``TIMEOUT``."""
        start = time.monotonic()
        if not self._threads.acquire(timeout=TIMEOUT):
            return None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return Place(None, self._threads)
        if self._wait_for_file(fd, start):
            return Place(fd, self._threads)
        os.close(fd)
        self._threads.release()
        return None

    @staticmethod
    def _wait_for_file(fd: int, start: float) -> bool:
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= TIMEOUT:
                    return False
                time.sleep(pause)
                pause = min(pause * 1.5, SHORT_PAUSE if waited < LONG_WAIT else LONG_PAUSE)

    @staticmethod
    def release(place: Place | None) -> None:
        if place is None:
            return
        if place.fd is not None:
            os.close(place.fd)  # closing the descriptor releases its lock
        if place.local is not None:
            place.local.release()
