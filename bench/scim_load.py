"""Side by side under load: the gateway (on each store), the PyPI ``scim2-server`` peer and a bare Flask
endpoint, each served by gunicorn with the same settings (common.GUNICORN_ARGS, 2 sync workers) on loopback and
driven by ``wrk`` (2 threads, 16 connections) with ``lua/scim.lua``: ``POST /Users`` and ``userName eq``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
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
SCENARIOS = ("create", "lookup")


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
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
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


def drive(name: str, port: int, base: str, token: str, lookups: int, seconds: float) -> dict[str, Load]:
    """Lookups first (on the seeded population), then creates; each after a one-second warm-up."""
    results = {}
    for mode in ("lookup", "create"):
        wrk(port, mode, base, token, lookups, 1)
        results[mode] = load = wrk(port, mode, base, token, lookups, seconds)
        log(
            f"{name} {mode}: {load.rps:.0f} req/s, p50 {load.p50_ms:.1f} ms, non-2xx {load.non2xx}, "
            f"misses {load.misses}, socket errors {load.socket_errors}"
            + (f"; e.g. {load.samples[:200]}" if load.samples else "")
        )
    return results


def run_peers(workdir: Path, seconds: float, lookups: int) -> dict[str, dict[str, Load]]:
    results = {}
    env = dict(
        os.environ, BENCH_PEER_LOOKUP_USERS=str(lookups), BENCH_PEER_TOKEN=PEER_TOKEN, BENCH_DOMAIN=DOMAIN
    )
    port = free_port()
    log(f"scim2-server peer on 127.0.0.1:{port} ({lookups} lookup users in each worker)")
    with gunicorn("peer_app:app", port, env, workdir / "peer.log"):
        probe = session(PEER_TOKEN).get(
            f"http://127.0.0.1:{port}/v2/Users", params={"filter": f'userName eq "lookup0@{DOMAIN}"'}
        )
        if check(probe, 200).json().get("totalResults") != 1:
            raise RuntimeError(f"peer lookup probe found nobody: {probe.text[:300]}")
        results["peer"] = drive("peer", port, "/v2", PEER_TOKEN, lookups, seconds)
    port = free_port()
    log(f"bare Flask endpoint on 127.0.0.1:{port}")
    with gunicorn("bare_app:app", port, dict(os.environ), workdir / "bare.log"):
        results["bare"] = drive("bare", port, "/scim/v2", "none", lookups, seconds)
    return results


def run_gateway(store: str, workdir: Path, seconds: float, lookups: int) -> dict[str, Load]:
    with temp_database(store, workdir) as url:
        port = free_port()
        gw = Gateway.prepare(url, workdir, port)
        org = gw.seed_org(domain=DOMAIN)
        with gunicorn("gateway.wsgi:app", port, gw.env, workdir / f"gateway-{store}.log"):
            base = f"http://127.0.0.1:{port}/scim/v2"
            log(f"gateway on {store}, 127.0.0.1:{port}: creating {lookups} lookup users over Bulk")
            bulk_create(base, org.scim_token, [f"lookup{i}@{DOMAIN}" for i in range(lookups)])
            probe = session(org.scim_token).get(
                f"{base}/Users", params={"filter": f'userName eq "lookup0@{DOMAIN}"'}
            )
            if check(probe, 200).json().get("totalResults") != 1:
                raise RuntimeError(f"gateway lookup probe found nobody: {probe.text[:300]}")
            return drive(f"gateway/{store}", port, "/scim/v2", org.scim_token, lookups, seconds)


def run(stores: list[str], workdir: Path, seconds: float, lookups: int) -> dict[str, dict[str, Load]]:
    results = run_peers(workdir, seconds, lookups)
    for store in stores:
        try:
            results[store] = run_gateway(store, workdir, seconds, lookups)
        except (RuntimeError, requests.RequestException) as error:
            log(f"gateway on {store} failed: {error}")
            raise
    return results
