"""Side by side under load: the gateway (on each store), the PyPI ``scim2-server`` peer and a bare Flask
endpoint, each served by gunicorn with the same settings (common.GUNICORN_ARGS, 2 sync workers) on loopback and
driven by ``wrk`` (2 threads, 16 connections) with ``lua/scim.lua``: ``POST /Users`` and ``userName eq``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from common import (
    BENCH,
    Gateway,
    free_port,
    gunicorn,
    log,
    temp_database,
)
from scim_client import bulk_create, check, session

THREADS = 2
CONNECTIONS = 16
DOMAIN = "bench.example"
PEER_TOKEN = "bench-peer-token"
SCENARIOS = ("lookup", "create")


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    non2xx: int
    misses: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    samples: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        log("wrk is missing: apt-get install wrk")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed for the SCIM load runs: apt-get install wrk (Debian/Ubuntu)")
    return found


def wrk(port: int, mode: str, base: str, token: str, lookups: int, seconds: float) -> Load:
    cmd = [
        ensure_wrk(),
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "lua" / "scim.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        base,
        token,
        DOMAIN,
        str(lookups),
        uuid.uuid4().hex[:8],
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    return parse(out.stdout, out.stderr)


def parse(stdout: str, stderr: str = "") -> Load:
    """The JSON line ``lua/scim.lua``'s ``done`` prints, as a Load."""
    line = next((x for x in stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    errors = data["errors"]
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        misses=data["misses"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        samples=data["samples"],
    )


@dataclass
class Target:
    """One server under test: where it listens and how a client talks to it."""

    name: str
    port: int
    base: str
    token: str


def _probe(url: str, token: str) -> None:
    answer = check(session(token).get(url, params={"filter": f'userName eq "lookup0@{DOMAIN}"'}), 200)
    if answer.json().get("totalResults") != 1:
        raise RuntimeError(f"lookup probe at {url} found nobody: {answer.text[:300]}")


def run(stores: list[str], workdir: Path, seconds: float, lookups: int) -> dict[str, dict[str, Load]]:
    """Start every server first, then run each scenario on all of them back to back (lookups first, on the
    seeded population, then creates), so that the ratios compare runs minutes apart at most, on a machine
    whose other load changes."""
    targets: list[Target] = []
    with ExitStack() as stack:
        env = dict(
            os.environ, BENCH_PEER_LOOKUP_USERS=str(lookups), BENCH_PEER_TOKEN=PEER_TOKEN, BENCH_DOMAIN=DOMAIN
        )
        port = free_port()
        log(f"scim2-server peer on 127.0.0.1:{port} ({lookups} lookup users in each worker)")
        stack.enter_context(gunicorn("peer_app:app", port, env, workdir / "peer.log"))
        _probe(f"http://127.0.0.1:{port}/v2/Users", PEER_TOKEN)
        targets.append(Target("peer", port, "/v2", PEER_TOKEN))
        port = free_port()
        log(f"bare Flask endpoint on 127.0.0.1:{port}")
        stack.enter_context(gunicorn("bare_app:app", port, dict(os.environ), workdir / "bare.log"))
        targets.append(Target("bare", port, "/scim/v2", "none"))
        for store in stores:
            url = stack.enter_context(temp_database(store, workdir))
            port = free_port()
            gw = Gateway.prepare(url, workdir, port)
            org = gw.seed_org(domain=DOMAIN)
            stack.enter_context(gunicorn("gateway.wsgi:app", port, gw.env, workdir / f"gateway-{store}.log"))
            base = f"http://127.0.0.1:{port}/scim/v2"
            log(f"gateway on {store}, 127.0.0.1:{port}: creating {lookups} lookup users over Bulk")
            bulk_create(base, org.scim_token, [f"lookup{i}@{DOMAIN}" for i in range(lookups)])
            _probe(f"{base}/Users", org.scim_token)
            targets.append(Target(store, port, "/scim/v2", org.scim_token))
        results: dict[str, dict[str, Load]] = {t.name: {} for t in targets}
        for mode in SCENARIOS:
            for t in targets:
                wrk(t.port, mode, t.base, t.token, lookups, 1)
                results[t.name][mode] = load = wrk(t.port, mode, t.base, t.token, lookups, seconds)
                log(
                    f"{t.name} {mode}: {load.rps:.0f} req/s, p50 {load.p50_ms:.1f} ms, non-2xx {load.non2xx}, "
                    f"misses {load.misses}, socket errors {load.socket_errors}"
                    + (f"; e.g. {load.samples[:200]}" if load.samples else "")
                )
    return results
