"""Markdown for docs/benchmarks.md: one block per part, written between that part's markers so that rerunning
one part (``--only acs``) replaces its own block and keeps the others and any hand-written text."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from common import GUNICORN_ARGS, GUNICORN_WORKERS, ratio

SECTION = "## `make bench` results"
INTRO = (
    "Written by `bench/run.py` (see `bench/README.md`); each part below names the machine, the commit and the\n"
    "command it ran with. Rerunning one part (`--only PART`) replaces its block only.\n"
)
TITLES = {
    "scim": "SCIM under load: gateway, scim2-server peer, bare Flask",
    "acs": "SAML ACS beside python3-saml's bare validation",
    "sync": "Initial sync",
    "growth": "Cost as one organization grows",
    "profile": "Where the milliseconds go (profiles of the hot paths)",
}
STORE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# Targets of issue 10, as ratios (gateway / reference), for a "met?" column. Never timed assertions in tests.
SCIM_TARGETS = {
    ("create", "sqlite"): (0.8, 0.2),
    ("lookup", "sqlite"): (1.0, 0.5),
    ("create", "postgresql"): (0.5, None),
    ("lookup", "postgresql"): (0.6, None),
}


def _start(part: str) -> str:
    return f"<!-- bench:{part}:start (written by bench/run.py) -->"


def _end(part: str) -> str:
    return f"<!-- bench:{part}:end -->"


def section(part: str, body: str, info: dict[str, str], command: str, seconds: float, note: str = "") -> str:
    machine = (
        f"Run {info['date']} on commit `{info['commit']}` (branch `{info['branch']}`): `nproc` {info['nproc']}, "
        f"{info['cpu']}, {info['memory']} RAM, Linux `{info['kernel']}`, Python {info['python']}, {info['wrk']}; "
        f"load average before {info['load']}, after {info['load_after']}. Command: `{command.strip()}` "
        f"(this part took {seconds:.0f} s)."
    )
    lead = f"**{note.strip()}**\n\n" if note.strip() else ""
    return f"{_start(part)}\n### {TITLES[part]}\n\n{lead}{machine}\n\n{body.strip()}\n{_end(part)}\n"


def write(path: Path, part: str, text: str) -> None:
    """Put ``text`` in place of the part's previous block (or append it to the generated section)."""
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(_start(part)) + r".*?" + re.escape(_end(part)) + r"\n?", re.S)
    if pattern.search(doc):
        doc = pattern.sub(lambda _m: text, doc, count=1)
    else:
        if SECTION not in doc:
            # The generated section goes first, after the title line and its paragraph.
            lines = doc.split("\n\n", 2)
            head = "\n\n".join(lines[:2]) if len(lines) > 1 else doc.rstrip("\n")
            rest = lines[2] if len(lines) > 2 else ""
            doc = f"{head}\n\n{SECTION}\n\n{INTRO}\n<!-- bench:parts -->\n\n{rest}"
        if "<!-- bench:parts -->" not in doc:
            doc = doc.replace(SECTION + "\n", SECTION + "\n\n<!-- bench:parts -->\n", 1)
        order = list(TITLES)
        later = [p for p in order[order.index(part) + 1 :] if _start(p) in doc]
        if later:
            anchor = _start(later[0])
            doc = doc.replace(anchor, text + "\n" + anchor, 1)
        else:
            anchor = "<!-- bench:parts -->"
            last = [p for p in order if _end(p) in doc]
            if last:
                anchor = _end(last[-1]) + "\n"
                doc = doc.replace(anchor, anchor + "\n" + text, 1)
            else:
                doc = doc.replace(anchor, anchor + "\n\n" + text, 1)
    path.write_text(doc)


def _met(value: float | None, floor: float | None) -> str:
    if floor is None or not value:
        return ""
    return "yes" if value >= floor else "**no**"


def scim(results: dict, args: argparse.Namespace) -> str:  # type: ignore[type-arg]
    peer, bare = results["peer"], results["bare"]
    out = [
        f"Every server: gunicorn `--workers {GUNICORN_WORKERS} {' '.join(GUNICORN_ARGS)}` on 127.0.0.1; "
        f"wrk `-t2 -c16 -d{args.duration:g}s` with `bench/lua/scim.lua` after a 1 s warm-up. Creates: `POST /Users`, "
        f'a userName no other request used. Lookups: `GET /Users?filter=userName eq "..."` among '
        f"{args.lookup_users} users created beforehand (over Bulk for the gateway, in every worker's memory for "
        'the peer). "non-2xx" and "misses" (a lookup that found nobody) are counted by the Lua `response` hook; '
        "socket errors by wrk. The bare endpoint answers a fixed one-user ListResponse.",
        "",
        "| what | gateway (SQLite) | gateway (PostgreSQL) | scim2-server peer | bare Flask |",
        "| --- | --- | --- | --- | --- |",
    ]
    label = {"create": "SCIM `POST /Users`", "lookup": 'SCIM `GET /Users?filter=userName eq "..."`'}
    for mode in ("create", "lookup"):
        cells = []
        for store in ("sqlite", "postgresql"):
            load = results.get(store, {}).get(mode)
            cells.append(f"{load.rps:,.0f} req/s" if load else "not run")
        out.append(f"| {label[mode]} | {' | '.join(cells)} | {peer[mode].rps:,.0f} | {bare[mode].rps:,.0f} |")
    out += [
        "",
        "| operation | server | req/s | p50 ms | p99 ms | non-2xx | misses | socket errors | gateway/peer (target) | gateway/bare (target) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("create", "lookup"):
        rows = [
            (f"gateway, {STORE_NAMES[s]}", s, results[s][mode])
            for s in ("sqlite", "postgresql")
            if s in results
        ]
        rows += [("scim2-server peer", None, peer[mode]), ("bare Flask", None, bare[mode])]
        for name, store, load in rows:
            vs_peer = vs_bare = ""
            if store:
                floor_peer, floor_bare = SCIM_TARGETS[(mode, store)]
                rp = load.rps / peer[mode].rps if peer[mode].rps else None
                rb = load.rps / bare[mode].rps if bare[mode].rps else None
                vs_peer = f"{ratio(load.rps, peer[mode].rps)} (≥ {floor_peer}: {_met(rp, floor_peer)})"
                vs_bare = ratio(load.rps, bare[mode].rps) + (
                    f" (≥ {floor_bare}: {_met(rb, floor_bare)})" if floor_bare else ""
                )
            out.append(
                f"| {mode} | {name} | {load.rps:,.0f} | {load.p50_ms:.1f} | {load.p99_ms:.1f} | {load.non2xx} | "
                f"{load.misses if mode == 'lookup' else '-'} | {load.socket_errors} | {vs_peer} | {vs_bare} |"
            )
    samples = [
        f"{name} {mode}: {load.samples[:300]}"
        for name, by_mode in results.items()
        for mode, load in by_mode.items()
        if load.samples
    ]
    if samples:
        out += ["", "First non-2xx answers seen:", "", *[f"- `{s}`" for s in samples]]
    return "\n".join(out)


def acs(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    out = [
        f"`bench/saml_bench.py`: {args.acs_responses} distinct signed responses (pysaml2 + xmlsec1, IdP-initiated, "
        "one member signing in again and again), validated by python3-saml's bare "
        "`OneLogin_Saml2_Response(...).is_valid(...)` and posted to the gateway's ACS in one process through "
        "Flask's test client (one worker, no HTTP server), interleaved: each response is validated bare, then "
        "posted to the ACS, so a change in the host's speed slows both alike.",
        "",
        "| store | python3-saml `is_valid` /s | gateway ACS sign-ins/s | median ms (bare / gateway) | gateway/bare (target ≥ 0.6) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for store, r in results.items():
        value = r["gateway_per_s"] / r["bare_per_s"]
        out.append(
            f"| {STORE_NAMES[store]} | {r['bare_per_s']:.0f} | {r['gateway_per_s']:.0f} | "
            f"{r['bare_ms']:.2f} / {r['gateway_ms']:.2f} | {value:.2f}x ({_met(value, 0.6)}) |"
        )
    return "\n".join(out)


def sync(r) -> str:  # type: ignore[no-untyped-def]
    from sync import describe_rss

    projected = 100_000 / r.rate / 60 if r.rate else float("nan")
    steady = r.last_rate / r.first_rate if r.first_rate else 0.0
    workers = sorted(r.rss_peak_mb)
    per_worker = ", ".join(
        f"{r.rss_start_mb.get(p, 0):.0f} → {r.rss_peak_mb[p]:.0f} (HWM {r.hwm_mb.get(p, 0):.0f})"
        for p in workers
    )
    out = [
        f"`gateway serve --workers {r.workers}` (its own gunicorn settings: gthread workers) on "
        f"{STORE_NAMES[r.store]}, {r.clients} concurrent keep-alive clients. Per user: "
        '`GET /Users?filter=userName eq "..."` (must find nobody) then `POST /Users`. Then group pushes: '
        f"{r.groups} groups created, each user PATCH-added to one of them in batches. Memory: VmRSS of every "
        "gunicorn worker sampled every 0.5 s from /proc, and the kernel's VmHWM.",
        "",
        "| users | users/s overall | first 10% | last 10% | last/first (target ≥ 0.8) | 100,000 users would take (target ≤ 6 min) | group pushes | failures |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {r.users:,} | {r.rate:.0f} | {r.first_rate:.0f} | {r.last_rate:.0f} | {steady:.2f} ({_met(steady, 0.8)}) | "
        f"{projected:.1f} min | {r.groups} groups, {r.group_members:,} memberships in {r.group_seconds:.1f} s | "
        f"{r.failures} |",
        "",
        f"RSS per worker, MB (start → peak sampled, kernel HWM): {per_worker or '-'}; "
        f"peak: {describe_rss(r.rss_peak_mb)} (target < 300 MB, flat).",
    ]
    if r.failure_sample:
        out += ["", f"First failures: `{r.failure_sample[:500]}`"]
    return "\n".join(out)


def growth(results: list) -> str:  # type: ignore[type-arg]
    from growth import BASELINE, OPERATIONS

    out = [
        "One organization grown over SCIM Bulk (100 users a request, 2 at a time) while served by gunicorn "
        f"(2 sync workers); at {BASELINE:,} members and at the full size every operation runs the same number "
        "of times, one after the other over HTTP; medians in ms, ratio = full size / baseline (target ≤ 1.5x). "
        "PATCH and DELETE each act on a different member.",
        "",
    ]
    for g in results:
        first = g.grow_rates[0] if g.grow_rates else 0
        last = g.grow_rates[-1] if g.grow_rates else 0
        out += [
            f"**{STORE_NAMES[g.store]}**, grown to {g.members:,} members in {g.grow_seconds:.0f} s "
            f"({g.members / g.grow_seconds if g.grow_seconds else 0:.0f} users/s; first Bulk request "
            f"{first:.0f} users/s, last {last:.0f})"
            + (
                "; the server runs without autovacuum, so `VACUUM ANALYZE` ran before each measurement, as "
                "autovacuum would have on a production server:"
                if getattr(g, "analyzed", False)
                else ":"
            ),
            "",
            f"| operation | {BASELINE:,} members | {g.members:,} members | ratio |",
            "| --- | --- | --- | --- |",
        ]
        for key, label in OPERATIONS:
            a, b = g.at_baseline.get(key), g.at_size.get(key)
            met = ("yes" if b / a <= 1.5 else "**no**") if a and b else ""
            out.append(f"| {label} | {a:.1f} | {b:.1f} | {ratio(b, a)} ({met}) |")
        out += [
            "",
            f"| group operation at {g.members:,} members | ms | target |",
            "| --- | --- | --- |",
            f"| add {g.big_patch_members:,} members to one group in one PATCH | {g.big_patch_ms:.0f} | "
            f"< 1000 (for 10,000){'' if g.big_patch_members >= 10_000 else ' (fewer members in this run)'} |",
            f"| remove one member of the {g.remove_one_group_size:,}-member group (median) | {g.remove_one_ms:.1f} | "
            "< 20 (for 100,000) |",
            "",
        ]
    return "\n".join(out)


def profile(results: dict, docs_dir: Path) -> str:  # type: ignore[type-arg]
    out = [
        "In one process through Flask's test client: each path run N times timed (median, no profiler) with the "
        "SQL statements and commits counted on the engine, then N more times under cProfile. Full profiles (top "
        "functions by cumulative and own time) are in `docs/profiles/`.",
        "",
    ]
    for store, paths in results.items():
        out += [
            f"**{STORE_NAMES[store]}**",
            "",
            "| path | requests | median ms | SQL statements / request | commits / request | most own time (share of the profile) | profile |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for p in paths:
            top = "; ".join(f"`{name}` {share:.0%}" for name, share in p.top_own[:3])
            rel = p.file.relative_to(docs_dir) if p.file.is_relative_to(docs_dir) else p.file
            out.append(
                f"| {p.path} | {p.requests} | {p.ms:.1f} | {p.statements:.1f} | {p.commits:.1f} | {top} | [{rel.name}]({rel}) |"
            )
        out.append("")
    return "\n".join(out)
