"""CPU instructions per request of a hot path, counted by valgrind's callgrind: a measure that does not move with
the host's speed, so two versions of the code compare exactly on a shared, noisy machine (a timing A/B there
needs several interleaved rounds and still moves by 10%).

    .venv/bin/python bench/instructions.py --path scim_create --store sqlite
    .venv/bin/python bench/instructions.py --path scim_lookup --store postgresql --against HEAD~3
    .venv/bin/python bench/instructions.py --path saml_acs --store sqlite

Each measurement runs one Python process under callgrind: it makes a database, seeds an organization through the
CLI, warms the path up, then has callgrind zero its counters, runs ``--requests`` requests through Flask's test
client and dumps the counters. The count is of the gateway's process only (the test client included, the CLI and
PostgreSQL's server not), divided by the requests. ``--against REV`` measures that revision too, from a git
worktree of it, both processes side by side (callgrind's counts do not depend on the other's load), and prints
the ratio. Two runs of one version differ by about 0.3% (new ids and times in every row).

Needs valgrind (``apt-get install valgrind``). Each process takes one to three minutes, most of it the imports
run under callgrind."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import ROOT, log

PATHS = ("scim_create", "scim_lookup", "saml_acs")
DOMAIN = "instructions.example"


def _child(store: str, path: str, requests: int) -> None:
    """Runs under callgrind: set up, warm up, then count ``requests`` requests of ``path``."""
    if path == "saml_acs":
        _child_acs(store, requests)
        return
    from common import Gateway, temp_database
    from scim_client import user

    from gateway.app import create_app
    from gateway.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp, temp_database(store, Path(tmp)) as url:
        gw = Gateway.prepare(url, Path(tmp), 8000)
        org = gw.seed_org(name="Instructions", domain=DOMAIN)
        client = create_app(settings=load_settings({}, environ=gw.env)).test_client()
        headers = {"Authorization": f"Bearer {org.scim_token}", "Content-Type": "application/scim+json"}

        def create(i: int) -> None:
            answer = client.post("/scim/v2/Users", headers=headers, data=json.dumps(user(f"u{i}@{DOMAIN}")))
            assert answer.status_code == 201, answer.get_data(as_text=True)

        def lookup(i: int) -> None:
            flt = f'userName eq "u{i % 100}@{DOMAIN}"'
            answer = client.get("/scim/v2/Users", headers=headers, query_string={"filter": flt})
            assert answer.status_code == 200 and answer.get_json()["totalResults"] == 1

        run: Callable[[int], None] = create if path == "scim_create" else lookup
        for i in range(100):
            create(i)
        for i in range(1000, 1020):
            run(i)
        _callgrind("-z")
        for i in range(2000, 2000 + requests):
            run(i)
        _callgrind("-d")


def _child_acs(store: str, requests: int) -> None:
    """The SAML ACS as ``bench/saml_bench.py`` posts it: distinct responses of one member signing in again,
    signed beforehand (by the test IdP's ``xmlsec1``, a process callgrind does not follow). The count includes
    python3-saml's validation of each response, which is most of it."""
    from urllib.parse import urlencode

    import saml_bench

    with saml_bench.acs_rig(store) as rig:
        forms = [urlencode({"SAMLResponse": encoded}) for encoded in rig.responses(20 + requests)]

        def post(form: str) -> None:
            answer = rig.client.post(
                f"/saml/{rig.slug}/acs", data=form, content_type="application/x-www-form-urlencoded"
            )
            assert answer.status_code == 303, answer.get_data(as_text=True)

        for form in forms[:20]:
            post(form)
        _callgrind("-z")
        for form in forms[20:]:
            post(form)
        _callgrind("-d")


def _callgrind(flag: str) -> None:
    subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)


def _measure(
    store: str, path: str, requests: int, pythonpath: str | None, out: Path
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
        sys.executable, str(Path(__file__).resolve()), "--child", "--store", store, "--path", path, "--requests", str(requests),
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _per_request(proc: subprocess.Popen[str], out: Path, requests: int) -> float:
    output, _ = proc.communicate()
    total = dumped_total(out) if proc.returncode == 0 else None
    if total is None:
        raise SystemExit(f"the measurement failed:\n{output[-3000:]}")
    return total / requests


def dumped_total(out: Path) -> int | None:
    """The instructions counted between the zeroing and the dump: the ``totals`` line of the first dump
    callgrind wrote (``cg.<pid>.1``; the file written at exit counts the shutdown)."""
    dumps = sorted(out.glob("cg.*.1"))
    if not dumps:
        return None
    totals = re.search(r"^totals:\s+(\d+)", dumps[0].read_text(errors="replace"), re.MULTILINE)
    return int(totals.group(1)) if totals else None


def _worktree(rev: str, into: Path) -> Path:
    target = into / "against"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(target), rev], cwd=ROOT, check=True, capture_output=True
    )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", choices=PATHS, default="scim_create")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--against", help="a git revision to measure beside the working tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.store, args.path, args.requests)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        runs = {"working tree": (None, tmp / "current")}
        try:
            if args.against:
                runs[args.against] = (str(_worktree(args.against, tmp)), tmp / "against-out")
            log(
                f"{args.path} on {args.store}: {args.requests} requests under callgrind ({len(runs)} at once)"
            )
            started = {}
            for label, (pythonpath, out) in runs.items():
                out.mkdir()
                started[label] = (_measure(args.store, args.path, args.requests, pythonpath, out), out)
            counts = {label: _per_request(proc, out, args.requests) for label, (proc, out) in started.items()}
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "against")], cwd=ROOT)
    for label, count in counts.items():
        print(f"{args.path} on {args.store}, {label}: {count / 1e6:.3f} M instructions per request")
    if args.against:
        ratio = counts["working tree"] / counts[args.against]
        print(f"working tree / {args.against}: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
