"""An identity provider keeps a few connections open and sends every request of a sync over them. Each worker of
``gateway serve`` listens on a socket of its own (``SO_REUSEPORT``), so the kernel spreads those connections over
the workers: on one shared socket, one worker accepted them all and ran at 94% of a core while three idled."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from ops_live import gateway_env, run_gateway, serving
from prometheus_client.mmap_dict import MmapedDict

CONNECTIONS = 16
ROUNDS = 4


def _health_checks_by_worker(instance: Path) -> dict[str, float]:
    """``/healthz`` requests each worker process counted (prometheus-client keeps one file per process)."""
    counted: dict[str, float] = {}
    for path in (instance / "metrics").glob("counter_*.db"):
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "gateway_http_requests_total" and labels.get("route") == "/healthz":
                pid = path.stem.rsplit("_", 1)[-1]
                counted[pid] = counted.get(pid, 0) + value
    return counted


def test_keep_alive_connections_are_spread_over_the_workers(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = gateway_env(instance, f"sqlite:///{tmp_path / 'gateway.db'}")
    run_gateway(env, "db", "upgrade")
    with serving(env, workers=2) as base:
        sessions = [requests.Session() for _ in range(CONNECTIONS)]
        try:
            # Every connection is opened before any is used again, as an IdP's connection pool does.
            for _ in range(ROUNDS):
                for session in sessions:
                    assert session.get(base + "/healthz", timeout=30).status_code == 200
        finally:
            for session in sessions:
                session.close()
        counted = _health_checks_by_worker(instance)
    # Each connection is hashed to one of the 2 workers: all 16 on one worker has odds of 2 in 65,536.
    assert sum(counted.values()) == CONNECTIONS * ROUNDS
    assert len(counted) == 2 and min(counted.values()) >= ROUNDS, counted
