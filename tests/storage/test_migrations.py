"""Migrations build the schema the code expects: ``upgrade`` on an empty database reaches head, and Alembic's
autogenerate comparison against the full metadata (every table module of every adapter) finds nothing missing."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.storage.migrate import alembic_config, current_revision, downgrade, upgrade
from gateway.storage.search_tables import SQLITE_TABLES
from gateway.storage.tables import metadata

from .conftest import BACKENDS, create_postgres_database, drop_postgres_database

ROOT = Path(__file__).resolve().parents[2]

# SQLite cannot reflect expression-based indexes, so Alembic skips them there; PostgreSQL compares them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
]
PACKAGES = ("gateway", "scim", "saml")


def table_modules() -> list[str]:
    """Every module that declares tables (``sa.Table(`` or ``Table(``), outside the migrations themselves."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            if "Table(" in source and "metadata" in source:
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def full_metadata() -> sa.MetaData:
    for module in table_modules():
        importlib.import_module(module)
    return metadata


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def head_revision(url: str) -> str:
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def schema_differences(url: str) -> list[str]:
    """What autogenerate would put in a new migration, one readable line per difference."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            # The SQLite member search index (an FTS5 virtual table and its shadow tables) is not in the
            # metadata: it is created by DDL events and migration 0008 alike.
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": _not_search_index}
            )
            return [describe(diff) for diff in compare_metadata(context, full_metadata())]
    finally:
        engine.dispose()


def _not_search_index(name: str | None, type_: str, _parents: object) -> bool:
    return not (type_ == "table" and name in SQLITE_TABLES)


def describe(diff: object) -> str:
    if isinstance(diff, tuple):
        op, *rest = diff
        names = [getattr(x, "name", None) or str(x) for x in rest if x is not None]
        return f"{op} {' '.join(map(str, names))}"[:300]
    return str(diff)[:300]


def test_the_storage_tables_module_is_found() -> None:
    assert "gateway.storage.tables" in table_modules()


def test_the_revision_chain_is_complete_and_linear(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config(f"sqlite:///{tmp_path / 'x.db'}"))
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations"
    assert revisions[-1].down_revision is None
    for revision in revisions:
        assert not revision.is_merge_point, f"{revision.revision} merges branches"


def test_upgrade_reaches_head_and_matches_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision(empty_database)
    differences = schema_differences(empty_database)
    assert differences == [], "the migrations do not build what the models declare; add a migration"


def test_upgrade_twice_is_a_no_op(empty_database: str) -> None:
    upgrade(empty_database)
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision(empty_database)


def test_downgrade_to_base_and_back(empty_database: str) -> None:
    upgrade(empty_database)
    downgrade(empty_database, "base")
    engine = sa.create_engine(empty_database)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert schema_differences(empty_database) == []


def _sqlite_index_sql(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
            return {name: " ".join(sql.replace('"', "").split()) for name, sql in rows}
    finally:
        engine.dispose()


@pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite is not among GATEWAY_TEST_BACKENDS")
def test_sqlite_indexes_built_by_migrations_are_those_of_the_models(tmp_path: Path) -> None:
    """Alembic skips expression indexes on SQLite (it cannot reflect them), so compare their DDL instead: an
    expression index serves a query only when the expressions match exactly (e.g. the JSON path literals)."""
    migrated, modelled = f"sqlite:///{tmp_path / 'migrated.db'}", f"sqlite:///{tmp_path / 'modelled.db'}"
    upgrade(migrated)
    engine = sa.create_engine(modelled)
    try:
        full_metadata().create_all(engine)
    finally:
        engine.dispose()
    built, declared = _sqlite_index_sql(migrated), _sqlite_index_sql(modelled)
    assert "ix_members_org_employee_number" in declared
    assert built == declared
