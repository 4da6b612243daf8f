"""Storage fixtures: throwaway PostgreSQL databases and schemas built by migrations as well as by the models."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.tables import organizations

ORG_CREATED = datetime(2026, 12, 6, tzinfo=UTC)

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = [
    b.strip() for b in os.environ.get("GATEWAY_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]


def create_postgres_database() -> str:
    """A new, empty database on the test server (same pattern as tests/conftest.py's postgres_database)."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}).", pytrace=False)
    finally:
        admin.dispose()
    return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """An empty PostgreSQL database brought to head by the migrations (not by ``create_all``)."""
    url = create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("migrated") / "head.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    """Empty every table the database has (whatever built it), keeping Alembic's revision."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        names = [f'"{n}"' for n in sa.inspect(conn).get_table_names() if n != "alembic_version"]
        if names:
            conn.execute(sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


SCHEMAS = [f"{backend}-{source}" for backend in BACKENDS for source in ("models", "migrations")]


@pytest.fixture(params=SCHEMAS)
def schema_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database whose schema comes from the models or from the migrations, on each backend: the constraints
    must hold in both, since production databases are built by the migrations."""
    backend, source = request.param.split("-")
    if backend == "sqlite":
        path = tmp_path / "constraints.db"
        if source == "migrations":
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database" if source == "models" else "migrated_postgres")
        _truncate(url)
    database = Database(url)
    if backend == "sqlite" and source == "models":
        database.create_all()
    yield database
    database.dispose()


def insert_org(db: Database, slug: str = "acme") -> str:
    """An organization row written straight into the table (SSO mode); its id."""
    org = str(uuid.uuid4())
    row = {"id": org, "slug": slug, "name": slug.title(), "mode": "sso", "multi_project": False}
    with db.engine.begin() as conn:
        conn.execute(sa.insert(organizations), {**row, "created_at": ORG_CREATED})
    return org


@pytest.fixture
def sent(db: Database) -> Iterator[list[str]]:
    """The SQL the test's database is sent from here on, in order."""
    statements: list[str] = []

    def record(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield statements
    sa.event.remove(db.engine, "before_cursor_execute", record)


def postgresql_only(db: Database, why: str) -> Database:
    """``db``, or the test skipped with ``why`` on SQLite (for what only PostgreSQL's locks have)."""
    if db.dialect != "postgresql":
        pytest.skip(why)
    return db
