"""Initial sync, as an identity provider runs it against a new organization: for every user a
``GET /Users?filter=userName eq "..."`` (is it there?) then a ``POST /Users``, from ``clients`` concurrent
connections; then group pushes: create the groups and PATCH-add their members in batches. The gateway runs as an
operator starts it (``gateway serve --workers N``, its own gunicorn settings), on PostgreSQL by default. The
resident memory of every gunicorn worker is sampled from /proc during the run."""

from __future__ import annotations

import http.client
import itertools
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from common import Gateway, free_port, gateway_serve, log, memory_kb, temp_database, worker_pids
from scim_client import GROUP, PATCH_OP, user

DOMAIN = "sync.example"


@dataclass
class Sync:
    store: str
    users: int
    clients: int
    workers: int
    seconds: float = 0.0
    first_rate: float = 0.0
    last_rate: float = 0.0
    failures: int = 0
    failure_sample: str = ""
    groups: int = 0
    group_members: int = 0
    group_seconds: float = 0.0
    rss_peak_mb: dict[int, float] = field(default_factory=dict)  # per worker: the highest VmRSS sampled
    hwm_mb: dict[int, float] = field(default_factory=dict)  # per worker: VmHWM (kernel's peak) at the end
    rss_start_mb: dict[int, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.users / self.seconds if self.seconds else 0.0


class Client:
    """One keep-alive HTTP/1.1 connection (``gateway serve`` runs threaded workers that keep connections),
    reopened when the server closes it."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Sampler(threading.Thread):
    """Samples VmRSS of each gunicorn worker every half second."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.peak: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.hwm: dict[int, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(0.5)

    def sample(self) -> None:
        for pid in worker_pids(self.master):
            rss, hwm = memory_kb(pid)
            if rss:
                self.first.setdefault(pid, rss)
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
                self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)


def run(store: str, workdir: Path, users: int, clients: int, workers: int, groups: int, batch: int) -> Sync:
    result = Sync(store, users, clients, workers)
    with temp_database(store, workdir) as url:
        port = free_port()
        gw = Gateway.prepare(url, workdir, port)
        org = gw.seed_org(name="Sync", domain=DOMAIN)
        with gateway_serve(gw, port, workers, workdir / f"sync-{store}.log") as proc:
            sampler = Sampler(proc.pid)
            sampler.start()
            try:
                ids = _users(result, port, org.scim_token)
                _groups(result, port, org.scim_token, ids, groups, batch)
            finally:
                sampler.stopped.set()
                sampler.join()
                sampler.sample()
            mb = 1024.0
            result.rss_start_mb = {p: v / mb for p, v in sampler.first.items()}
            result.rss_peak_mb = {p: v / mb for p, v in sampler.peak.items()}
            result.hwm_mb = {p: v / mb for p, v in sampler.hwm.items()}
    return result


def _users(result: Sync, port: int, token: str) -> list[str]:
    """Lookup then create, per user; the ids created, in user order."""
    counter = itertools.count()
    lock = threading.Lock()
    done: list[float] = []
    failures: list[str] = []
    ids: dict[int, str] = {}
    log(f"sync/{result.store}: {result.users} users from {result.clients} clients")

    def work() -> None:
        client = Client(port, token)
        while True:
            with lock:
                i = next(counter)
            if i >= result.users or len(failures) > 50:
                return
            name = f"user{i:07d}@{DOMAIN}"
            flt = quote(f'userName eq "{name}"')
            status, body = client.call("GET", f"/scim/v2/Users?filter={flt}")
            if status != 200 or json.loads(body).get("totalResults") != 0:
                failures.append(f"lookup {status}: {body[:200]!r}")
                continue
            status, body = client.call("POST", "/scim/v2/Users", user(name))
            if status != 201:
                failures.append(f"create {status}: {body[:200]!r}")
                continue
            ids[i] = json.loads(body)["id"]
            done.append(time.perf_counter())

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(result.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.sort()
    result.seconds = (done[-1] if done else time.perf_counter()) - started
    result.failures = len(failures)
    result.failure_sample = " | ".join(failures[:3])
    tenth = max(1, len(done) // 10)
    if len(done) >= 2 * tenth:
        result.first_rate = tenth / (done[tenth - 1] - started)
        result.last_rate = tenth / (done[-1] - done[-tenth - 1])
    result.users = len(done)
    log(
        f"sync/{result.store}: {result.rate:.0f} users/s overall, first 10% {result.first_rate:.0f}/s, "
        f"last 10% {result.last_rate:.0f}/s, failures {result.failures}"
    )
    return [ids[i] for i in sorted(ids)]


def _groups(result: Sync, port: int, token: str, ids: list[str], groups: int, batch: int) -> None:
    """Group pushes: ``groups`` groups, member i in group i % groups, PATCH-added ``batch`` at a time."""
    if not groups or not ids:
        return
    client = Client(port, token)
    started = time.perf_counter()
    group_ids = []
    for g in range(groups):
        status, body = client.call(
            "POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": f"Team {g}"}
        )
        if status != 201:
            raise RuntimeError(f"group create {status}: {body[:300]!r}")
        group_ids.append(json.loads(body)["id"])
    jobs = []
    for g, gid in enumerate(group_ids):
        members = ids[g::groups]
        jobs.extend((gid, members[k : k + batch]) for k in range(0, len(members), batch))
    lock = threading.Lock()
    queue = iter(jobs)
    failures: list[str] = []

    def work() -> None:
        c = Client(port, token)
        while True:
            with lock:
                job = next(queue, None)
            if job is None:
                return
            gid, members = job
            body = {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in members]}],
            }
            status, answer = c.call("PATCH", f"/scim/v2/Groups/{gid}", body)
            if status not in (200, 204):
                failures.append(f"group patch {status}: {answer[:200]!r}")

    threads = [threading.Thread(target=work) for _ in range(result.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.groups = groups
    result.group_members = len(ids)
    result.group_seconds = time.perf_counter() - started
    result.failures += len(failures)
    if failures:
        result.failure_sample += " | " + " | ".join(failures[:3])
    log(
        f"sync/{result.store}: {groups} groups, {len(ids)} memberships in batches of {batch}: "
        f"{result.group_seconds:.1f} s ({len(ids) / result.group_seconds:.0f} memberships/s)"
    )


def describe_rss(values: dict[int, float]) -> str:
    if not values:
        return "-"
    return f"{max(values.values()):.0f} MB max, {statistics.median(values.values()):.0f} MB median"
