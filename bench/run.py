"""The gateway's benchmark, one command: ``make bench`` (quick) or ``.venv/bin/python bench/run.py [flags]``.

Parts (``--only``, comma-separated; all by default):
  scim     the gateway on each store, PyPI's in-memory ``scim2-server`` and a bare Flask endpoint, all under the
           same gunicorn settings (2 sync workers, loopback), driven by wrk (2 threads, 16 connections) with
           ``POST /Users`` (a unique userName each) and ``userName eq`` over users created beforehand;
  acs      the SAML ACS beside python3-saml's bare ``is_valid`` on the same distinct signed responses;
  sync     an initial sync (lookup then create per user, then group pushes) against ``gateway serve --workers 4``
           from 8 concurrent clients, with users/s overall, in the first and last 10% and memory per worker;
  growth   one org grown over SCIM Bulk to N members: each operation's median at 1,000 and at N members;
  profile  each hot path through Flask's test client: ms, SQL statements and commits per request, cProfile.

Every database is made for the run and dropped after it (a SQLite file in a temp folder; a new PostgreSQL
database on --postgres-url), every server listens on 127.0.0.1, and every child process ends with the run.
Results go to stdout and, part by part, into docs/benchmarks.md (between markers, so other text stays).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from common import CHILDREN, DEFAULT_POSTGRES_URL, ROOT, STORES, install_signal_handlers, log, machine, tail

PARTS = ("scim", "acs", "sync", "growth", "profile")
QUICK = {
    "duration": 3,
    "lookup_users": 200,
    "acs_responses": 40,
    "sync_users": 400,
    "sync_groups": 4,
    "growth_members": 1500,
    "samples": 7,
    "profile_requests": 20,
}


def _csv(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in value.split(",") if x.strip()]
    unknown = [x for x in items if x not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return items


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", type=lambda v: _csv(v, PARTS, "part"), default=list(PARTS), help="parts to run")
    p.add_argument("--stores", type=lambda v: _csv(v, STORES, "store"), default=list(STORES))
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and short runs: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    p.add_argument("--duration", type=float, default=10, help="seconds of each wrk run (scim)")
    p.add_argument("--lookup-users", type=int, default=1000, help="users the lookups search among (scim)")
    p.add_argument("--acs-responses", type=int, default=300, help="distinct signed responses (acs)")
    p.add_argument(
        "--sync-users", type=int, default=5000, help="users of the initial sync; 100000 is the target"
    )
    p.add_argument("--sync-clients", type=int, default=8)
    p.add_argument("--sync-workers", type=int, default=4, help="gateway serve --workers")
    p.add_argument("--sync-store", choices=STORES, default="postgresql")
    p.add_argument("--sync-groups", type=int, default=10, help="groups pushed after the users")
    p.add_argument("--sync-batch", type=int, default=100, help="members per group PATCH")
    p.add_argument(
        "--growth-members", type=int, default=10000, help="members to grow one org to; 100000 is the target"
    )
    p.add_argument("--samples", type=int, default=20, help="requests per timed operation (growth)")
    p.add_argument("--profile-requests", type=int, default=100, help="requests per hot path (profile)")
    p.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="server where the PostgreSQL databases are made"
    )
    p.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "benchmarks.md", help="where results are written"
    )
    p.add_argument("--no-docs", action="store_true", help="print the results only")
    p.add_argument(
        "--note", default="", help="a sentence put at the top of every block written (e.g. what code ran)"
    )
    args = p.parse_args(argv)
    if args.quick:
        given = set(argv if argv is not None else sys.argv[1:])
        for key, value in QUICK.items():
            if f"--{key.replace('_', '-')}" not in given:
                setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    import common

    common.DEFAULT_POSTGRES_URL = args.postgres_url
    info = machine()
    given = list(argv if argv is not None else sys.argv[1:])
    if "--note" in given:  # the note is printed above the command already
        at = given.index("--note")
        del given[at : at + 2]
    given = [g for g in given if not g.startswith("--note=")]
    command = shlex.join(["bench/run.py", *given])
    log(
        f"{info['nproc']} CPUs ({info['cpu']}), kernel {info['kernel']}, commit {info['commit']}, load {info['load']}"
    )
    started = time.monotonic()
    failed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
            workdir = Path(tmp)
            for part in [p for p in PARTS if p in args.only]:
                part_dir = workdir / part
                part_dir.mkdir()
                t0 = time.monotonic()
                try:
                    block = RUNNERS[part](args, part_dir)
                except Exception as error:  # one part failing must not hide the others' results
                    failed.append(part)
                    block = f"**This part failed**: `{type(error).__name__}: {str(error)[:600]}`"
                    log(f"{part} FAILED: {error!r}")
                    traceback.print_exc()
                    for logfile in sorted(part_dir.rglob("*.log")):
                        log(f"--- last lines of {logfile.name} ---\n{tail(logfile)}")
                finally:
                    CHILDREN.stop_all()
                seconds = time.monotonic() - t0
                text = report.section(
                    part, block, info | {"load_after": machine()["load"]}, command, seconds, args.note
                )
                print(text, flush=True)
                if not args.no_docs:
                    report.write(args.docs, part, text)
                log(f"{part} done in {seconds:.0f} s")
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        CHILDREN.stop_all()
    log(
        f"all done in {time.monotonic() - started:.0f} s"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def run_scim(args: argparse.Namespace, workdir: Path) -> str:
    import scim_load

    return report.scim(scim_load.run(args.stores, workdir, args.duration, args.lookup_users), args)


def run_acs(args: argparse.Namespace, workdir: Path) -> str:
    import saml_bench

    results = {}
    for store in args.stores:
        log(f"acs/{store}: {args.acs_responses} responses")
        results[store] = saml_bench.run(store, args.acs_responses, args.postgres_url)
    return report.acs(results, args)


def run_sync(args: argparse.Namespace, workdir: Path) -> str:
    import sync

    result = sync.run(
        args.sync_store,
        workdir,
        args.sync_users,
        args.sync_clients,
        args.sync_workers,
        args.sync_groups,
        args.sync_batch,
    )
    return report.sync(result)


def run_growth(args: argparse.Namespace, workdir: Path) -> str:
    import growth

    results = []
    for store in args.stores:
        store_dir = workdir / store
        store_dir.mkdir()
        results.append(growth.run(store, store_dir, args.growth_members, args.samples))
    return report.growth(results)


def run_profile(args: argparse.Namespace, workdir: Path) -> str:
    import profile_paths

    # With --no-docs the full profiles stay in the run's temporary folder, like everything else it writes.
    out_dir = workdir / "profiles" if args.no_docs else args.docs.parent / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for store in args.stores:
        store_dir = workdir / store
        store_dir.mkdir()
        results[store] = profile_paths.run(store, store_dir, args.profile_requests, out_dir)
    return report.profile(results, args.docs.parent)


RUNNERS: dict[str, Callable[[argparse.Namespace, Path], str]] = {
    "scim": run_scim,
    "acs": run_acs,
    "sync": run_sync,
    "growth": run_growth,
    "profile": run_profile,
}


if __name__ == "__main__":
    sys.exit(main())
