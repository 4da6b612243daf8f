"""The database goes away under SCIM load from two client processes against a real ``gateway serve --workers 2``
on PostgreSQL, and comes back: while it is away SCIM answers 503 with ``Retry-After`` (never a 500), the
gateway recovers by itself (no restart), nothing acknowledged with 2xx is lost and nothing is written twice.

"Away" is the test's own database made unreachable on the shared server: ``ALLOW_CONNECTIONS false`` and
every session of it terminated (what a crash or a failover does to the gateway's pooled connections)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from ops_live import gateway_env, run_gateway, serving
from outage_client import run_client

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = os.environ.get("GATEWAY_TEST_BACKENDS", "sqlite,postgresql")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="GATEWAY_TEST_BACKENDS excludes PostgreSQL"),
]


@pytest.fixture
def outage_db() -> Iterator[tuple[str, Callable[[bool], None]]]:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"gw_outage_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def reachable(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": name},
                )

    yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), reachable
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def wait_for(condition: Callable[[], bool], what: str, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_scim_survives_a_database_outage_without_losing_or_doubling_writes(
    tmp_path: Path, outage_db: tuple[str, Callable[[bool], None]]
) -> None:
    url, reachable = outage_db
    env = gateway_env(tmp_path / "instance", url)
    run_gateway(env, "db", "upgrade")
    org = json.loads(run_gateway(env, "org", "create", "--name", "Acme", "--mode", "sso", "--json"))
    token = json.loads(run_gateway(env, "scim-token", "create", "acme", "--json"))["token"]
    ctx = multiprocessing.get_context("spawn")
    stop, ok, unavailable = ctx.Event(), ctx.Value("i", 0), ctx.Value("i", 0)
    outs = [tmp_path / f"client-{n}.json" for n in range(2)]
    with serving(env, workers=2) as base:
        clients = [
            ctx.Process(target=run_client, args=(base, token, f"c{n}", str(out), stop, ok, unavailable))
            for n, out in enumerate(outs)
        ]
        for client in clients:
            client.start()
        try:
            wait_for(lambda: ok.value >= 10, "writes before the outage")
            reachable(False)
            wait_for(lambda: unavailable.value >= 6, "503 answers while the database is away")
            during = requests.get(base + "/readyz", timeout=30)
            assert during.status_code == 503
            acknowledged_before = ok.value
            reachable(True)
            wait_for(lambda: ok.value >= acknowledged_before + 10, "writes after the database came back")
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=120)
        assert all(client.exitcode == 0 for client in clients), [c.exitcode for c in clients]
        assert requests.get(base + "/readyz", timeout=30).status_code == 200
    results = [r for out in outs for r in json.loads(out.read_text())]
    finals = {r["userName"]: r["statuses"][-1] for r in results}
    assert set(finals.values()) <= {201, 409}, {k: v for k, v in finals.items() if v not in (201, 409)}
    assert all(500 not in r["statuses"] for r in results), "a 500 while the database was away"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, email FROM members WHERE org_id = :org"), {"org": org["id"]}
        ).all()
    engine.dispose()
    stored = [email for _, email in rows]
    assert len(stored) == len(set(stored)), "a user was written twice"
    by_email = dict((email, member_id) for member_id, email in rows)
    acknowledged = {r["userName"]: r["id"] for r in results if r["statuses"][-1] == 201}
    assert acknowledged, "no write was acknowledged"
    lost = [name for name in acknowledged if name not in by_email]
    assert lost == [], f"acknowledged with 201 but not stored: {lost}"
    assert all(by_email[name] == member_id for name, member_id in acknowledged.items())
    # A 409 is a create whose earlier attempt was stored but not acknowledged (an interrupted COMMIT); the
    # stored set is exactly what the clients sent, each once.
    assert set(stored) == set(finals)
