"""A small SCIM client for seeding and timing: user bodies, Bulk creation, one timed request."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import requests

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_JSON = "application/scim+json"


def user(name: str, family: str = "User") -> dict:  # type: ignore[type-arg]
    return {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": "Bench", "familyName": family},
        "active": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
    }


def session(token: str) -> requests.Session:
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON, "Accept": SCIM_JSON})
    return s


def check(response: requests.Response, *expected: int) -> requests.Response:
    if response.status_code not in expected:
        raise RuntimeError(
            f"{response.request.method} {response.url}: HTTP {response.status_code}: {response.text[:400]}"
        )
    return response


def bulk_create(
    base: str, token: str, names: list[str], chunk: int = 100, parallel: int = 2
) -> tuple[list[str], list[float]]:
    """Create ``names`` through ``POST /Bulk``, ``chunk`` users a request, ``parallel`` requests at a time.
    Returns the ids in the order of ``names`` and the users/s of each request."""
    chunks = [names[i : i + chunk] for i in range(0, len(names), chunk)]

    def send(part: list[str]) -> tuple[list[str], float]:
        body = {
            "schemas": [BULK],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user(n)}
                for i, n in enumerate(part)
            ],
        }
        with session(token) as s:
            started = time.perf_counter()
            answer = check(s.post(f"{base}/Bulk", data=json.dumps(body), timeout=600), 200).json()
            seconds = time.perf_counter() - started
        ids = []
        for op in answer["Operations"]:
            if op.get("status") != "201":
                raise RuntimeError(f"bulk create failed: {json.dumps(op)[:400]}")
            ids.append(op["location"].rstrip("/").rsplit("/", 1)[1])
        return ids, len(part) / seconds

    ids: list[str] = []
    rates: list[float] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for part_ids, rate in pool.map(send, chunks):
            ids.extend(part_ids)
            rates.append(rate)
    return ids, rates


def median_ms(calls: Iterable[Callable[[], requests.Response]], *expected: int) -> float:
    """Run each call once, one after the other; the median duration in milliseconds."""
    samples = []
    for call in calls:
        started = time.perf_counter()
        check(call(), *expected)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000 if samples else float("nan")
