"""``/metrics`` of a real ``gateway serve --workers 2``: whichever worker answers a scrape, the counters add
up to the requests made (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from ops_live import gateway_env, run_gateway, serving
from prometheus_client.parser import text_string_to_metric_families

N_HEALTH = 24
N_SCIM = 12


def samples(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_counters_sum_over_both_workers_on_every_scrape(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'gateway.db'}")
    run_gateway(env, "db", "upgrade")
    run_gateway(env, "org", "create", "--name", "Acme", "--mode", "sso")
    token = json.loads(run_gateway(env, "scim-token", "create", "acme", "--json"))["token"]
    with serving(env, workers=2) as base:

        def health(_: int) -> int:
            # A new connection per request, so the workers share them out.
            return requests.get(base + "/healthz", headers={"Connection": "close"}, timeout=30).status_code

        def create(i: int) -> int:
            user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{i}@acme.com"}
            return requests.post(
                base + "/scim/v2/Users",
                json=user,
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=30,
            ).status_code

        def counting_workers() -> int:
            files = [p.name for p in (tmp_path / "instance" / "metrics").iterdir()]
            return len({name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")})

        n_health = 0
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert list(pool.map(create, range(N_SCIM))) == [201] * N_SCIM
            # Until both workers have counted requests (the kernel may hand one worker every connection
            # of a short burst), so that a scrape answered by either must include the other's counts.
            while n_health < N_HEALTH or (counting_workers() < 2 and n_health < 40 * N_HEALTH):
                assert list(pool.map(health, range(N_HEALTH))) == [200] * N_HEALTH
                n_health += N_HEALTH
        assert counting_workers() == 2
        for _ in range(5):
            text = requests.get(base + "/metrics", headers={"Connection": "close"}, timeout=30).text
            health_count = samples(
                text, "gateway_http_requests_total", method="GET", route="/healthz", status="200"
            )
            assert health_count == n_health
            assert samples(text, "gateway_http_request_duration_seconds_count", route="/healthz") == n_health
            scim = samples(
                text, "gateway_scim_operations_total", resource="Users", method="POST", outcome="success"
            )
            assert scim == N_SCIM
            assert samples(text, "gateway_outbox_messages") >= 0
            assert "gateway_db_pool_connections_in_use" in text
