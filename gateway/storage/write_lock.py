"""A queue for SQLite's writers across processes.

SQLite lets one writer in at a time; the others, told the database is busy, sleep and try again, in steps that
grow to 100 ms. Under a sync from 16 connections over several processes that sleeping, not the work, sets the
pace. Writers therefore first take an exclusive ``flock`` on a file beside the database: the kernel wakes the
next one the moment the lock is released, and ``BEGIN IMMEDIATE`` then finds the database free. The lock is a
courtesy on top of SQLite's own: a writer that cannot get it within the busy timeout goes ahead anyway and
SQLite decides, as before.
"""

from __future__ import annotations

import fcntl
import os
import time

TIMEOUT = 30.0


class WriteQueue:
    def __init__(self, database_path: str) -> None:
        self.path = database_path + ".writers"

    def acquire(self) -> int | None:
        """An open, locked file descriptor, or ``None`` when the lock could not be had in time."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        deadline = time.monotonic() + TIMEOUT
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(pause)
                pause = min(pause * 2, 0.004)

    @staticmethod
    def release(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its lock
