"""Revision 0005 creates exactly the outbox tables the models describe, and its downgrade drops them, on SQLite
and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.storage.migrate import downgrade, upgrade
from gateway.storage.tables import metadata

OUTBOX_TABLES = {
    "webhook_endpoints",
    "outbox_events",
    "outbox_cursors",
    "outbox_messages",
    "delivery_attempts",
    "invitation_expiry_notices",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    if "postgresql" not in os.environ.get("GATEWAY_TEST_BACKENDS", "sqlite,postgresql"):
        pytest.skip("GATEWAY_TEST_BACKENDS excludes postgresql")
    server = request.getfixturevalue("postgres_database")  # the run's database: proves the server is up
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"gw_mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def outbox_differences(url: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()

    def table_of(diff: object) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None) if not isinstance(part, str) else None
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return table.name
            if name in OUTBOX_TABLES:
                return name
            if isinstance(part, str) and part in OUTBOX_TABLES:
                return part
        return None

    return [d for d in diffs if table_of(d) in OUTBOX_TABLES]


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::sqlalchemy.exc.SAWarning")
def test_revision_0005_matches_the_models_and_downgrades_cleanly(empty_database: str) -> None:
    upgrade(empty_database, "0005")
    assert tables(empty_database) >= OUTBOX_TABLES
    assert outbox_differences(empty_database) == []
    downgrade(empty_database, "0004")
    assert not OUTBOX_TABLES & tables(empty_database)
