"""The settings every SQLite connection of the gateway runs with (``gateway.storage.db._make_engine``)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from gateway.storage.db import Database

# PRAGMA values as SQLite reports them: synchronous NORMAL is 1, temp_store MEMORY is 2.
EXPECTED = {
    "journal_mode": "wal",
    "synchronous": 1,
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "temp_store": 2,
}


def test_every_connection_runs_with_the_gateways_settings(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL (the README says what a power loss can cost), foreign keys enforced, a busy
    timeout that outlasts any writer, and statement journals and temporary tables in memory: an INSERT into
    members, whose journal passed SQLite's 64 KiB spill limit in every other SCIM create, made a file for it."""
    db = Database(f"sqlite:///{tmp_path / 'settings.db'}", pool_size=2)
    try:
        # The driver's connections, as the pool made them (SQLAlchemy's would begin a writer's transaction).
        first, second = db.engine.raw_connection(), db.engine.raw_connection()
        try:
            for conn in (first, second):
                got = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in EXPECTED}
                assert got == EXPECTED
        finally:
            first.close()
            second.close()
    finally:
        db.dispose()


def test_a_reader_and_a_writer_share_the_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'units.db'}")
    db.create_all()
    try:
        with db.transaction(write=False) as reader:
            assert reader.session.execute(sa.text("PRAGMA temp_store")).scalar() == 2
        with db.transaction() as writer:
            assert writer.session.execute(sa.text("PRAGMA temp_store")).scalar() == 2
    finally:
        db.dispose()
