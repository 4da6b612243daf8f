"""The benchmark harness's own logic (no load is generated here): the docs writer keeps other text and
replaces only the part it reruns, wrk's result line is read right, and ``--quick`` never overrides a flag."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import instructions
import report
import run
from scim_load import parse

DOC = "# Benchmarks\n\nIntro paragraph.\n\n## Older hand runs\n\nKept text.\n"


def block(part: str, body: str) -> str:
    info = {
        "date": "2026-12-04 00:00 UTC",
        "commit": "abc",
        "branch": "b",
        "nproc": "2",
        "cpu": "cpu",
        "memory": "1 GiB",
        "kernel": "6",
        "python": "3.11",
        "wrk": "wrk",
        "load": "1",
        "load_after": "2",
    }
    return report.section(part, body, info, "bench/run.py", 1.0, note="smoke")


def test_the_first_write_puts_the_generated_section_after_the_intro_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    report.write(doc, "acs", block("acs", "ACS TABLE"))
    text = doc.read_text()
    assert text.index("Intro paragraph.") < text.index(report.SECTION) < text.index("ACS TABLE")
    assert text.index("ACS TABLE") < text.index("## Older hand runs")
    assert "Kept text." in text
    assert "**smoke**" in text


def test_rerunning_a_part_replaces_its_block_only_and_parts_keep_their_order(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    report.write(doc, "growth", block("growth", "GROWTH 1"))
    report.write(doc, "scim", block("scim", "SCIM 1"))
    report.write(doc, "profile", block("profile", "PROFILE 1"))
    report.write(doc, "scim", block("scim", "SCIM 2"))
    text = doc.read_text()
    assert "SCIM 1" not in text
    assert text.count(report.SECTION) == 1
    assert text.index("SCIM 2") < text.index("GROWTH 1") < text.index("PROFILE 1") < text.index("Kept text.")


def test_the_wrk_result_line_is_read_with_its_error_counts() -> None:
    stdout = (
        "Running 10s test @ http://127.0.0.1:1\n"
        'BENCH_RESULT {"requests":1000,"duration_us":2000000,"non2xx":3,"misses":1,'
        '"errors":{"connect":1,"read":2,"write":0,"timeout":4,"status":3},'
        '"latency_us":{"mean":1.0,"p50":1500,"p90":2000,"p99":9000,"max":10000},"samples":"500:x | "}\n'
    )
    load = parse(stdout)
    assert (load.rps, load.non2xx, load.misses, load.socket_errors) == (500.0, 3, 1, 7)
    assert (load.p50_ms, load.p99_ms) == (1.5, 9.0)


def test_a_run_without_the_result_line_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no result"):
        parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_quick_sets_small_sizes_but_an_explicit_flag_wins() -> None:
    args = run.parse_args(["--quick", "--sync-users", "123"])
    assert args.sync_users == 123
    assert args.growth_members == run.QUICK["growth_members"]
    assert run.parse_args([]).growth_members == 10000


def test_an_unknown_part_is_refused() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "scim,nope"])


def test_the_instruction_count_is_read_from_callgrinds_first_dump(tmp_path: Path) -> None:
    (tmp_path / "cg.41.1").write_text("version: 1\ncmd: python\nevents: Ir\nsummary: 123\ntotals: 4200000\n")
    (tmp_path / "cg.41").write_text("events: Ir\ntotals: 9999999999\n")  # written at exit: not the count
    assert instructions.dumped_total(tmp_path) == 4200000


def test_no_dump_means_no_count(tmp_path: Path) -> None:
    assert instructions.dumped_total(tmp_path) is None
