"""Shared fixtures: ``db`` and everything built on it run on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh database created for this test run on ``GATEWAY_TEST_POSTGRES_URL``
(default: the local server, trust auth). If that server cannot be reached the tests *fail*; set
``GATEWAY_TEST_BACKENDS=sqlite`` to run the SQLite half alone on a machine without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.domain import model as m
from gateway.services import Services
from gateway.settings import load_settings
from gateway.storage.db import Database
from gateway.storage.tables import map_entities, metadata

map_entities()

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = [
    b.strip() for b in os.environ.get("GATEWAY_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]


class FakeClock:
    """A clock the test moves by hand; services read time only through it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A dedicated, empty PostgreSQL database for this test run, dropped at the end."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}). Start it, or set "
            "GATEWAY_TEST_BACKENDS=sqlite to run only the SQLite tests.",
            pytrace=False,
        )
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        # DELETE is far cheaper than TRUNCATE on small tables; children first so foreign keys hold.
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
    yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    if db_url.startswith("sqlite"):
        database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(db: Database, clock: FakeClock) -> Services:
    return Services(db, clock=clock, secret_key="test-secret-key")


@pytest.fixture
def app(db: Database, db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Flask]:
    settings = load_settings(
        {
            "database_url": db_url,
            "instance_path": str(tmp_path / "instance"),
            "secret_key": "test-secret-key",
            "public_url": "http://gateway.test",
        }
    )
    application = create_app(settings=settings, clock=clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["gateway.services"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_services(app: Flask) -> Services:
    return app.extensions["gateway.services"]


CLI = m.Actor.cli()


class TxtRecords:
    """What the loopback DNS server answers: TXT strings by name (tests set them)."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}

    def set(self, name: str, *values: str) -> None:
        self.records[name.lower().rstrip(".")] = list(values)

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        from dnslib import QTYPE, RCODE, RR, TXT

        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


@pytest.fixture(scope="session")
def dns_server() -> Iterator[tuple[TxtRecords, str]]:
    """A real DNS server (dnslib) on an ephemeral UDP port of 127.0.0.1; yields its records and address."""
    from dnslib.server import DNSLogger, DNSServer

    records = TxtRecords()
    server = DNSServer(
        records, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-data")
    )
    server.start_thread()
    host, port = server.server.server_address[:2]
    yield records, f"{host}:{port}"
    server.stop()


@pytest.fixture
def dns(dns_server: tuple[TxtRecords, str]) -> Iterator[TxtRecords]:
    """The loopback DNS server's records, emptied around each test."""
    records, _ = dns_server
    records.records.clear()
    yield records
    records.records.clear()


@pytest.fixture
def dns_address(dns_server: tuple[TxtRecords, str]) -> str:
    return dns_server[1]
