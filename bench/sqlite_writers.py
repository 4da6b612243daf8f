"""Why SQLite creates do not scale with worker processes: one and then two (``--processes``) processes create
users at once on one SQLite database, in-process through Flask's test client (no HTTP, no load generator
competing for the cores), and each reports what a create cost it.

    .venv/bin/python bench/sqlite_writers.py [--seconds 8] [--processes 1,2] [--rounds 2]

Per create, summed over the processes: creates/s, CPU time, how long the process held the write lock (from its
place in ``gateway.storage.write_lock.WriteQueue`` to its release) and waited for it, the share of the run the
lock was held by someone, and the read syscalls it made (``syscr`` of ``/proc/self/io``: SQLite reads a page it
does not hold in its cache with one ``pread``). SQLite discards a connection's whole page cache when another
connection committed since its last read, so with two writers each create reads again every page it walks;
that and the single writer are what the second process costs. Rounds alternate the process counts, so a change
in the host's speed shows in both."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import Gateway, log, temp_database
from scim_client import user


@dataclass
class Worker:
    creates: int
    seconds: float
    cpu: float
    hold: float
    wait: float
    reads: int


def _read_syscalls() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("syscr:"):
            return int(line.split()[1])
    return 0


def _timed_queue(stats: dict[str, float]) -> None:
    """Wrap the write queue so that this process adds up its waits for the lock and its holds of it."""
    from gateway.storage import write_lock

    acquire, release = write_lock.WriteQueue.acquire, write_lock.WriteQueue.release
    taken: list[float] = []

    def timed_acquire(self: Any) -> Any:
        started = time.perf_counter()
        place = acquire(self)
        now = time.perf_counter()
        stats["wait"] += now - started
        taken.append(now)
        return place

    def timed_release(place: Any) -> None:
        if taken:
            stats["hold"] += time.perf_counter() - taken.pop()
        release(place)

    write_lock.WriteQueue.acquire = timed_acquire  # type: ignore[method-assign]
    write_lock.WriteQueue.release = staticmethod(timed_release)  # type: ignore[method-assign]


def _create_for(
    env: dict[str, str], token: str, domain: str, tag: str, seconds: float, out: Any, go: Any
) -> None:
    os.environ.update(env)
    from gateway.app import create_app

    stats = {"wait": 0.0, "hold": 0.0}
    _timed_queue(stats)
    client = create_app().test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    def create(name: str) -> None:
        answer = client.post("/scim/v2/Users", headers=headers, data=json.dumps(user(f"{name}@{domain}")))
        if answer.status_code != 201:
            raise RuntimeError(f"create refused: {answer.status_code} {answer.get_data(as_text=True)[:200]}")

    for i in range(50):
        create(f"warm-{tag}-{i}")
    go.wait()
    stats.update(wait=0.0, hold=0.0)
    reads, usage, started = _read_syscalls(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    done = 0
    while time.perf_counter() - started < seconds:
        create(f"u-{tag}-{done}")
        done += 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    out.put(
        Worker(
            done, time.perf_counter() - started, cpu, stats["hold"], stats["wait"], _read_syscalls() - reads
        )
    )


def measure(processes: int, seconds: float, round_no: int) -> str:
    with tempfile.TemporaryDirectory() as tmp, temp_database("sqlite", Path(tmp)) as url:
        gw = Gateway.prepare(url, Path(tmp), 8000)
        org = gw.seed_org(name="Writers", domain="writers.example")
        ctx = mp.get_context("fork")
        out, go = ctx.Queue(), ctx.Barrier(processes)
        args = (gw.env, org.scim_token, org.domain)
        procs = [
            ctx.Process(target=_create_for, args=(*args, f"r{round_no}p{k}", seconds, out, go))
            for k in range(processes)
        ]
        for proc in procs:
            proc.start()
        workers = [out.get(timeout=seconds + 300) for _ in procs]
        for proc in procs:
            proc.join()
    n = sum(w.creates for w in workers)
    wall = max(w.seconds for w in workers)
    held = sum(w.hold for w in workers)
    return (
        f"| {processes} | {n / wall:,.0f} | {1000 * sum(w.cpu for w in workers) / n:.2f} | "
        f"{1000 * held / n:.2f} | {1000 * sum(w.wait for w in workers) / n:.2f} | {100 * held / wall:.0f}% | "
        f"{sum(w.reads for w in workers) / n:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--processes", default="1,2", help="process counts, each run in every round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    rows = []
    for round_no in range(args.rounds):
        for processes in counts:
            log(f"sqlite writers: round {round_no + 1}, {processes} process(es), {args.seconds:g} s")
            rows.append(measure(processes, args.seconds, round_no))
    print(
        "| processes | creates/s | CPU ms per create | write lock held, ms per create | "
        "waited for it, ms per create | lock held | read syscalls per create |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
