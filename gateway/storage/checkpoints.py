"""SQLite's WAL checkpoints, run after a writer has left the write queue.

SQLite's automatic checkpoint runs inside the commit that fills the WAL past 1,000 pages: that commit copies
the WAL back into the database file and syncs it while its process still holds the write queue
(``gateway.storage.write_lock``), so every other writer waits for the copy too. Each connection therefore
turns the automatic checkpoint off, and ``Database`` runs a passive checkpoint every few dozen write
transactions of a process, once the writer has released the queue (``Database._upkeep``). A passive checkpoint
never waits for a lock and runs beside the next writer (SQLite's checkpointer is not its writer). Durability is
unchanged: with ``synchronous=NORMAL`` a commit reaches the WAL without a sync either way.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

log = logging.getLogger("gateway.storage")


def no_automatic_checkpoint(cursor: Any) -> None:
    cursor.execute("PRAGMA wal_autocheckpoint=0")


def passive_checkpoint(engine: sa.Engine) -> None:
    """Copy what no reader still needs from the WAL into the database file, waiting for nobody."""
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        cursor.close()
    except Exception:  # a checkpoint is housekeeping: the next one copies what this one could not
        log.warning("WAL checkpoint skipped", exc_info=True)
    finally:
        conn.close()
