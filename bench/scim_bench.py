"""SCIM benchmark: the gateway's /scim/v2 against a bare Flask endpoint that returns a fixed ListResponse,
over real HTTP on loopback, on SQLite and PostgreSQL. Run by hand; results go to docs/benchmarks.md.

    .venv/bin/python bench/scim_bench.py [--users 10000] [--population 100000] [--group 10000]
        [--backends sqlite,postgresql] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Measured, per backend:
  1. creating ``--users`` users, one ``POST /Users`` each;
  2. ``GET /Users?filter=userName eq "..."`` among ``--population`` users (the users beyond the ones created
     over HTTP are inserted straight into the database first, so that seeding does not dominate the run);
  3. adding ``--group`` members to one group in one ``PATCH``;
  4. removing one member from that group (``PATCH`` with ``members[value eq "..."]``).
The bare endpoint answers the same requests (same method, path and body) with a fixed ListResponse, so the
ratio is what the gateway costs over a minimal Flask + WSGI server round trip.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa
from flask import Flask, Response
from werkzeug.serving import make_server

import gateway.storage.scim_tables  # noqa: F401  (registers the SCIM tables before migrations run)
from gateway.app import create_app
from gateway.domain import model as m
from gateway.settings import load_settings
from gateway.storage.migrate import upgrade
from gateway.storage.tables import members as members_table

LIST_RESPONSE = json.dumps(
    {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "2819c223-7f76-453a-919d-413861904646",
                "userName": "bjensen@example.com",
            }
        ],
    }
)
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bare_app() -> Flask:
    app = Flask("bare")

    @app.route("/scim/v2/", defaults={"path": ""}, methods=["GET", "POST", "PATCH"])
    @app.route("/scim/v2/<path:path>", methods=["GET", "POST", "PATCH"])
    def fixed(path: str) -> Response:
        return Response(LIST_RESPONSE, content_type="application/scim+json")

    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/scim/v2"
    finally:
        server.shutdown()
        thread.join()


@dataclass
class Timing:
    label: str
    requests: int
    seconds: float
    p50_ms: float

    @property
    def per_request_ms(self) -> float:
        return self.seconds * 1000 / self.requests


def timed(label: str, calls: list[Callable[[], requests.Response]], expect: int) -> Timing:
    samples = []
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - t0)
        if response.status_code != expect:
            raise SystemExit(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
    return Timing(label, len(calls), time.perf_counter() - started, statistics.median(samples) * 1000)


def seed_members(url: str, org_id: str, start: int, count: int) -> None:
    """Insert ``count`` provisioned members straight into the database (the lookup population)."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    batch = 5000
    with engine.begin() as conn:
        for first in range(start, start + count, batch):
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "org_id": org_id,
                    "email": f"seed{i}@bench.example",
                    "role": "member",
                    "status": "active",
                    "joined_via": "scim",
                    "user_name": f"seed{i}@bench.example",
                    "scim_linked": True,
                    "version": 1,
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(first, min(first + batch, start + count))
            ]
            conn.execute(sa.insert(members_table), rows)
    engine.dispose()


def database(backend: str, postgres_url: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False), drop


def run_backend(backend: str, args: argparse.Namespace) -> list[tuple[Timing, Timing]]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, drop = database(backend, args.postgres_url, workdir)
        try:
            upgrade(url)
            settings = load_settings(
                {"database_url": url, "instance_path": str(workdir / "instance"), "secret_key": "bench",
                 "public_url": "http://127.0.0.1", "log_level": "WARNING", "max_request_bytes": 4 * 1048576}
            )  # fmt: skip
            app = create_app(settings=settings)
            services = app.extensions["gateway.services"]
            org = services.orgs.create("Bench", m.MembershipMode.SSO, m.Actor.cli()).org
            token = services.credentials.create_scim_token(org.id, m.Actor.cli()).token
            return measure(app, url, org.id, token, args)
        finally:
            drop()


def measure(
    app: Flask, url: str, org_id: str, token: str, args: argparse.Namespace
) -> list[tuple[Timing, Timing]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    results: list[tuple[Timing, Timing]] = []
    with serve(app) as gw, serve(bare_app()) as bare, requests.Session() as s:
        s.headers.update(headers)

        def user(i: int) -> str:
            return json.dumps({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"user{i}@bench.example",
                "name": {"givenName": "User", "familyName": str(i)}, "active": True,
                "emails": [{"value": f"user{i}@bench.example", "type": "work", "primary": True}],
            })  # fmt: skip

        created: list[str] = []

        def create(base: str, i: int) -> Callable[[], requests.Response]:
            def call() -> requests.Response:
                response = s.post(f"{base}/Users", data=user(i))
                if base == gw:
                    created.append(response.json()["id"])
                return response

            return call

        n = args.users
        results.append((
            timed(f"create {n} users (POST /Users)", [create(gw, i) for i in range(n)], 201),
            timed("bare", [create(bare, i) for i in range(n)], 200),
        ))  # fmt: skip

        seed_members(url, org_id, 0, max(0, args.population - n))
        lookups = 200
        names = [f"seed{(i * 7919) % max(1, args.population - n)}@bench.example" for i in range(lookups)]

        def lookup(base: str, name: str) -> Callable[[], requests.Response]:
            return lambda: s.get(f"{base}/Users", params={"filter": f'userName eq "{name}"'})

        results.append((
            timed(f"userName eq lookup among {args.population} users (x{lookups})",
                  [lookup(gw, x) for x in names], 200),
            timed("bare", [lookup(bare, x) for x in names], 200),
        ))  # fmt: skip

        group = s.post(f"{gw}/Groups", data=json.dumps({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Everyone"})).json()  # fmt: skip
        members = created[: args.group]
        add_body = json.dumps({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": x} for x in members]}]})  # fmt: skip
        results.append((
            timed(f"add {len(members)} members to one group (one PATCH)",
                  [lambda: s.patch(f"{gw}/Groups/{group['id']}", data=add_body)], 204),
            timed("bare", [lambda: s.patch(f"{bare}/Groups/x", data=add_body)], 200),
        ))  # fmt: skip

        removals = members[:50]

        def remove(base: str, member_id: str) -> Callable[[], requests.Response]:
            body = json.dumps({"schemas": [PATCH], "Operations": [
                {"op": "remove", "path": f'members[value eq "{member_id}"]'}]})  # fmt: skip
            return lambda: s.patch(f"{base}/Groups/{group['id']}", data=body)

        results.append((
            timed(f"remove one member from the {len(members)}-member group (x{len(removals)})",
                  [remove(gw, x) for x in removals], 204),
            timed("bare", [remove(bare, x) for x in removals], 200),
        ))  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--population", type=int, default=100000)
    parser.add_argument("--group", type=int, default=10000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        "| backend | operation | requests | gateway total s | gateway ms/request (p50) | bare ms/request (p50) | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for gateway_timing, bare_timing in run_backend(backend, args):
            ratio = gateway_timing.per_request_ms / bare_timing.per_request_ms
            print(
                f"| {backend} | {gateway_timing.label} | {gateway_timing.requests} | {gateway_timing.seconds:.2f} | "
                f"{gateway_timing.per_request_ms:.2f} ({gateway_timing.p50_ms:.2f}) | "
                f"{bare_timing.per_request_ms:.2f} ({bare_timing.p50_ms:.2f}) | {ratio:.1f}x |",
                flush=True,
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
