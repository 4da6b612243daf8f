"""Where the milliseconds go: each hot path run in-process through Flask's test client, first timed with its SQL
statements and commits counted, then again (on other users) under cProfile. The full profiles (top functions by
cumulative and by own time) go to docs/profiles/<store>-<path>.txt."""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import site
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from common import ROOT, Gateway, log, temp_database
from scim_client import BULK, PATCH_OP, user
from sqlalchemy import event

DOMAIN = "profile.example"
PATHS = [
    "scim_create",
    "scim_lookup",
    "scim_replace",
    "scim_patch_active",
    "scim_list_page",
    "scim_delete",
    "acs",
    "me",
]


@dataclass
class PathProfile:
    path: str
    requests: int
    ms: float
    statements: float
    commits: float
    top_own: list[tuple[str, float]]
    file: Path


class Counter:
    """SQL statements and commits on every engine of the process (whatever engine the gateway builds)."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(sa.engine.Engine, "before_cursor_execute", self._statement)
        event.listen(sa.engine.Engine, "commit", self._commit)

    def _statement(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1

    def close(self) -> None:
        event.remove(sa.engine.Engine, "before_cursor_execute", self._statement)
        event.remove(sa.engine.Engine, "commit", self._commit)


def _short(filename: str) -> str:
    for prefix in [*site.getsitepackages(), str(ROOT)]:
        if filename.startswith(prefix):
            return filename[len(prefix) :].lstrip("/")
    return filename


def _report(stats: pstats.Stats, header: str) -> str:
    out = io.StringIO()
    out.write(header + "\n\n== top 35 by cumulative time ==\n")
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(35)
    out.write("\n== top 25 by own time ==\n")
    stats.sort_stats("tottime").print_stats(25)
    text = out.getvalue()
    for prefix in sorted([*site.getsitepackages(), str(ROOT) + "/"], key=len, reverse=True):
        text = text.replace(prefix, "")
    return text


def _top_own(stats: pstats.Stats, n: int = 4) -> list[tuple[str, float]]:
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    return [
        (f"{func} ({_short(file)}:{line})", tt / total) for (file, line, func), (_, _, tt, _, _) in ranked
    ]


def run(store: str, workdir: Path, count: int, out_dir: Path) -> list[PathProfile]:
    import saml_bench  # imports the test IdP (pysaml2); only needed here

    from gateway.app import create_app
    from gateway.settings import load_settings

    results: list[PathProfile] = []
    with temp_database(store, workdir) as url:
        gw = Gateway.prepare(url, workdir, 8000)
        org = gw.seed_org(name="Profile", domain=DOMAIN)
        # Every sign-in comes from one client address: the per-address ACS limit is off here.
        settings = load_settings({"rate_limit_acs": ""}, environ=gw.env)
        app = create_app(settings=settings)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {org.scim_token}", "Content-Type": "application/scim+json"}
        population = 6 * count
        log(f"profile/{store}: creating {population} users over Bulk, {count} requests per path")
        ids: list[str] = []
        for start in range(0, population, 500):
            ops = [
                {"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": user(f"p{i:06d}@{DOMAIN}")}
                for i in range(start, min(population, start + 500))
            ]
            answer = client.post(
                "/scim/v2/Bulk", headers=headers, data=json.dumps({"schemas": [BULK], "Operations": ops})
            )
            for op in answer.get_json()["Operations"]:
                if op.get("status") != "201":
                    raise RuntimeError(f"bulk create failed: {op}")
                ids.append(op["location"].rsplit("/", 1)[1])
        pool = iter(range(population))
        rig = saml_bench.saml_setup(app, settings, org.id)
        email = f"ada@{DOMAIN}"
        signed = iter(rig.responses(2 * count + 1, email))
        first = rig.client.post(f"/saml/{rig.slug}/acs", data={"SAMLResponse": next(signed)})
        if first.status_code != 303:
            raise RuntimeError(f"ACS refused the first response: {first.get_data(as_text=True)[:300]}")
        off = json.dumps(
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        )
        fresh = iter(range(10**9))

        def one(path: str) -> tuple[Callable[[], object], tuple[int, ...]]:
            """The next request of ``path`` (each on its own user where it changes one)."""
            if path == "scim_create":
                body = json.dumps(user(f"new{next(fresh)}@{DOMAIN}"))
                return (lambda: client.post("/scim/v2/Users", headers=headers, data=body)), (201,)
            if path == "scim_lookup":
                i = next(fresh) * 7919 % population
                flt = f'userName eq "p{i:06d}@{DOMAIN}"'
                return (
                    lambda: client.get("/scim/v2/Users", headers=headers, query_string={"filter": flt})
                ), (200,)
            if path == "scim_replace":
                i = next(pool)
                body = json.dumps(user(f"p{i:06d}@{DOMAIN}", family="Replaced"))
                return (lambda: client.put(f"/scim/v2/Users/{ids[i]}", headers=headers, data=body)), (200,)
            if path == "scim_patch_active":
                i = next(pool)
                return (lambda: client.patch(f"/scim/v2/Users/{ids[i]}", headers=headers, data=off)), (
                    200,
                    204,
                )
            if path == "scim_list_page":
                q = {"startIndex": population // 2, "count": 100}
                return (lambda: client.get("/scim/v2/Users", headers=headers, query_string=q)), (200,)
            if path == "scim_delete":
                i = next(pool)
                return (lambda: client.delete(f"/scim/v2/Users/{ids[i]}", headers=headers)), (204,)
            if path == "acs":
                # Encoded here, as a browser would send it: the test client's own form encoder would be profiled.
                form = urlencode({"SAMLResponse": next(signed)})
                return (
                    lambda: rig.client.post(
                        f"/saml/{rig.slug}/acs", data=form, content_type="application/x-www-form-urlencoded"
                    )
                ), (303,)
            return (lambda: rig.client.get("/me")), (200,)

        counter = Counter()
        try:
            for path in PATHS:
                calls = [one(path) for _ in range(count)]
                samples = []
                counter.statements = counter.commits = 0
                for call, expected in calls:
                    started = time.perf_counter()
                    answer = call()
                    samples.append(time.perf_counter() - started)
                    if answer.status_code not in expected:  # type: ignore[attr-defined]
                        raise RuntimeError(
                            f"{path}: HTTP {answer.status_code}: {answer.get_data(as_text=True)[:300]}"
                        )  # type: ignore[attr-defined]
                statements, commits = counter.statements / count, counter.commits / count
                calls = [one(path) for _ in range(count)]
                profiler = cProfile.Profile()
                profiler.enable()
                for call, _ in calls:
                    call()
                profiler.disable()
                stats = pstats.Stats(profiler)
                ms = statistics.median(samples) * 1000
                target = out_dir / f"{store}-{path}.txt"
                header = (
                    f"{path} on {store}: {count} requests through Flask's test client, median {ms:.2f} ms "
                    f"(without the profiler), {statements:.1f} SQL statements and {commits:.1f} commits per request"
                )
                target.write_text(_report(stats, header))
                results.append(PathProfile(path, count, ms, statements, commits, _top_own(stats), target))
                log(
                    f"profile/{store}: {path} {ms:.1f} ms, {statements:.1f} statements, {commits:.1f} commits"
                )
        finally:
            counter.close()
            app.extensions["gateway.services"].db.dispose()
    return results
