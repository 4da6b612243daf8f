"""SQLite gets planner statistics without anyone running ANALYZE by hand: the engine's connections run
``PRAGMA optimize`` every so many check-ins and when they close. On PostgreSQL they analyze the tables
autovacuum would have analyzed but will not (autovacuum off)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.storage.statistics import keep_postgresql_statistics_fresh, keep_sqlite_statistics_fresh

from .conftest import BACKENDS, create_postgres_database, drop_postgres_database


def _stat_tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
        if "sqlite_stat1" not in names:
            return set()
        return {r[0] for r in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}


def _filled(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (org TEXT, k INTEGER)")
        conn.exec_driver_sql("CREATE INDEX ix_t_org ON t (org)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
            "INSERT INTO t SELECT 'org' || (i % 2), i FROM n"
        )


def test_checkins_run_optimize_which_analyzes_queried_tables(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    keep_sqlite_statistics_fresh(engine, every=3)
    _filled(engine)
    assert _stat_tables(engine) == set()
    for _ in range(3):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM t WHERE org = 'org1'").scalar()
    assert "t" in _stat_tables(engine)
    engine.dispose()


def test_closing_a_connection_runs_optimize(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    keep_sqlite_statistics_fresh(engine, every=10_000)
    _filled(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM t WHERE org = 'org1'").scalar()
    engine.dispose()  # closes the pooled connection
    assert "t" in _stat_tables(engine)
    engine.dispose()


def test_postgresql_engines_are_left_alone() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    keep_sqlite_statistics_fresh(engine)
    assert len(engine.pool.dispatch.checkin) == 0 and len(engine.pool.dispatch.close) == 0
    sqlite = sa.create_engine("sqlite://")
    keep_sqlite_statistics_fresh(sqlite)
    assert len(sqlite.pool.dispatch.checkin) == 1 and len(sqlite.pool.dispatch.close) == 1
    engine.dispose()
    sqlite.dispose()


def test_the_statistics_see_that_one_large_organization_holds_every_row(tmp_path: Path) -> None:
    """A sampled analysis would see only the first few hundred entries of the index and estimate that an
    organization holds about that many rows; the planner then prefers the organization's index to a selective
    one. The analysis reads the whole index instead."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    keep_sqlite_statistics_fresh(engine, every=1)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (org TEXT, k INTEGER)")
        conn.exec_driver_sql("CREATE INDEX ix_t_org ON t (org)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
            "INSERT INTO t SELECT 'big', i FROM n"
        )
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM t WHERE org = 'big'").scalar()
    with engine.connect() as conn:
        rows, per_org = map(
            int, conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_t_org'").scalar().split()
        )
    assert rows == 5000 and per_org == 5000
    engine.dispose()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL only")
def test_postgresql_checkins_analyze_the_tables_autovacuum_leaves_alone() -> None:
    """Where autovacuum will not analyze a table (off on the server, as on the benchmark machine, or for the
    table), a connection's check-ins analyze it once autovacuum's threshold has passed: a tenth of the table
    and 50 rows changed since the last analysis. A table autovacuum looks after is left to it."""
    url = create_postgres_database()
    engine = sa.create_engine(url)
    keep_postgresql_statistics_fresh(engine, every=1)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (org TEXT, k INTEGER) WITH (autovacuum_enabled = false)")
            conn.exec_driver_sql("INSERT INTO t SELECT 'org', i FROM generate_series(1, 40) AS i")
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")  # counts are reported at this commit
        with engine.connect() as conn:
            assert conn.exec_driver_sql(_LAST_ANALYZE).scalar() is None  # 40 rows: below the threshold
            conn.exec_driver_sql("INSERT INTO t SELECT 'org', i FROM generate_series(1, 2000) AS i")
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            conn.commit()
        with engine.connect() as conn:
            assert conn.exec_driver_sql(_LAST_ANALYZE).scalar() is not None
            assert conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 't'").scalar() == 2040
            conn.exec_driver_sql("ALTER TABLE t RESET (autovacuum_enabled)")
            conn.commit()
            autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar() == "on"
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t SELECT 'org', i FROM generate_series(1, 4000) AS i")
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        with engine.connect() as conn:
            reltuples = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 't'").scalar()
            # the server's autovacuum looks after the table now (if it runs), so the hook leaves it alone
            assert reltuples == (2040 if autovacuum else 6040)
    finally:
        engine.dispose()
        drop_postgres_database(url)


def test_the_postgresql_hook_leaves_sqlite_engines_alone() -> None:
    sqlite = sa.create_engine("sqlite://")
    keep_postgresql_statistics_fresh(sqlite)
    assert len(sqlite.pool.dispatch.checkin) == 0
    sqlite.dispose()


_LAST_ANALYZE = "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 't'"
