"""Planner statistics kept fresh on SQLite, which otherwise never has any, and on a PostgreSQL server whose
autovacuum is off.

Without ``sqlite_stat1`` SQLite guesses that ``org_id = ?`` is selective and picks an ``(org_id, ...)``
index that matches the whole organization. Migration 0008 runs ``ANALYZE`` once; after that each pooled
connection runs ``PRAGMA optimize`` (which re-analyzes only the tables whose size changed a lot since their
last analysis) every ``EVERY`` check-ins and when it is closed, as the SQLite documentation recommends for
long-lived connections. PostgreSQL's autovacuum keeps its own statistics.

The analysis reads whole indexes (``analysis_limit=0``). A limited one samples the first entries of each index,
which all belong to one organization when one organization is large, and so concludes that ``org_id = ?``
matches a few hundred rows: at 100,000 members the planner then walked the organization's list index for an
``emails[...] eq`` lookup (24 ms, against 5 ms at 1,000 members). Analyzing a database of 100,000 members in full
took 0.2 s here, and ``optimize`` does it again only when a table has grown many times over.

PostgreSQL's autovacuum analyzes a table once a tenth of it has changed, which also makes every connection
re-plan the statements it cached for the table. With autovacuum off nothing does, and the plans a connection
cached while the organization was small stay: during a first SCIM sync on such a server, the join's lookup
by ``(org_id, email)`` ran on a cached plan that walked the organization's ``ix_members_org_manager`` entries
(every member's, since few have a manager), 3,900 index entries per call at 20,000 members. So each pooled
connection, every ``POSTGRES_EVERY`` check-ins, analyzes the tables autovacuum would have analyzed by now (its
default threshold: 50 rows and a tenth of the table changed since the last analysis) but will not (autovacuum
off, on the server or for the table). ``SKIP_LOCKED``: a table another connection is analyzing is left to it.
Where autovacuum runs, as in production, the check finds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

log = logging.getLogger("gateway.storage")

EVERY = 1000
POSTGRES_EVERY = 100
"""PostgreSQL: check-ins of a connection between two looks for stale tables (one query on the statistics
views), often enough that plans cached at the start of a sync are made again within its first few hundred
users."""
ANALYSIS_LIMIT = 0
"""No limit: see the module docstring."""


def _optimize(dbapi_conn: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cursor.execute("PRAGMA optimize")
    finally:
        cursor.close()


def keep_sqlite_statistics_fresh(engine: sa.Engine, every: int = EVERY) -> None:
    """Install the ``PRAGMA optimize`` hooks on an SQLite engine's pool."""
    if engine.dialect.name != "sqlite":
        return

    _every_checkins(engine, every, _optimize, "optimize_uses", "PRAGMA optimize skipped")

    @event.listens_for(engine, "close")
    def _on_close(dbapi_conn: Any, _record: Any) -> None:
        try:
            _optimize(dbapi_conn)
        except Exception:  # closing must not fail because the database went away
            return


_STALE_WITHOUT_AUTOVACUUM = """
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = ANY (current_schemas(false))
  AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
  AND NOT (current_setting('autovacuum')::boolean
           AND coalesce((SELECT o.option_value::boolean FROM pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_enabled'), true))
ORDER BY s.n_mod_since_analyze DESC
"""
"""The tables on the search path whose changes have passed autovacuum's analyze threshold and that autovacuum
will not analyze."""


def analyze_stale_tables(dbapi_conn: Any) -> list[str]:
    """PostgreSQL: ``ANALYZE`` the tables whose statistics autovacuum would have renewed by now but will not
    (see the module docstring); the tables analyzed. Runs in a transaction of its own on ``dbapi_conn``."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(_STALE_WITHOUT_AUTOVACUUM)
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f"ANALYZE (SKIP_LOCKED) {name}")
        dbapi_conn.commit()
        return names
    except Exception:
        dbapi_conn.rollback()
        raise
    finally:
        cursor.close()


def keep_postgresql_statistics_fresh(engine: sa.Engine, every: int | None = None) -> None:
    """Install the ``analyze_stale_tables`` hook on a PostgreSQL engine's pool (every ``every`` check-ins of
    a connection, ``POSTGRES_EVERY`` by default)."""
    if engine.dialect.name != "postgresql":
        return

    _every_checkins(
        engine,
        every or POSTGRES_EVERY,
        analyze_stale_tables,
        "analyze_uses",
        "ANALYZE of stale tables skipped",
    )


def _every_checkins(
    engine: sa.Engine, every: int, work: Callable[[Any], object], key: str, skipped: str
) -> None:
    """Run ``work`` on a pooled connection every ``every``-th time it is checked in (counted in its record's
    ``info[key]``); statistics are an optimization, so a failure is logged, never raised into a request."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if dbapi_conn is None:
            return
        uses = record.info.get(key, 0) + 1
        record.info[key] = uses
        if uses % every == 0:
            try:
                work(dbapi_conn)
            except Exception:
                log.warning(skipped, exc_info=True)
