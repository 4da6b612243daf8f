"""What every part of the benchmark shares: throw-away databases, the gateway CLI, servers under gunicorn on
loopback, and the guarantee that every child process ends with the run (also on Ctrl-C or an error)."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES_URL = os.environ.get(
    "GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET_KEY = "bench-secret-key-not-for-production"
STORES = ("sqlite", "postgresql")

# The gunicorn settings every server of the side-by-side runs gets: the same worker model and count.
GUNICORN_WORKERS = 2
# A long worker timeout: a big Bulk request or group PATCH on a loaded machine must not be cut off.
GUNICORN_ARGS = ["--worker-class", "sync", "--timeout", "600", "--log-level", "warning"]


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM if the benchmark process dies, even by
    SIGKILL, so no server outlives the run."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Children:
    """Every process the benchmark starts, each in its own process group, stopped together."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], env: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
        out = logfile.open("ab")
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=_die_with_parent
        )
        out.close()
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc)


CHILDREN = Children()


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into an exception, so the ``finally`` blocks (children, databases) run."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{tail(logfile)}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout}s:\n{tail(logfile)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def temp_database(store: str, workdir: Path, postgres_url: str | None = None) -> Iterator[str]:
    """A SQLite file in ``workdir``, or a fresh PostgreSQL database on ``postgres_url`` (default: the module's
    ``DEFAULT_POSTGRES_URL``, which ``run.py --postgres-url`` sets) dropped when the block ends."""
    postgres_url = postgres_url or DEFAULT_POSTGRES_URL
    if store == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Org:
    """One SSO-mode organization seeded through the CLI, with its SCIM token and an admin API key."""

    id: str
    slug: str
    scim_token: str
    api_key: str
    domain: str


@dataclass
class Gateway:
    """A migrated database and the environment the gateway runs with."""

    url: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(cls, url: str, workdir: Path, port: int) -> Gateway:
        env = dict(os.environ)
        env.update(
            {
                "GATEWAY_DATABASE_URL": url,
                "GATEWAY_INSTANCE_PATH": str(workdir / "instance"),
                "GATEWAY_SECRET_KEY": SECRET_KEY,
                "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "GATEWAY_LOG_LEVEL": "WARNING",
                "GATEWAY_MAX_REQUEST_BYTES": str(8 * 1048576),
            }
        )
        gw = cls(url, workdir, env)
        gw.cli("db", "upgrade")
        return gw

    def cli(self, *args: str) -> dict:  # type: ignore[type-arg]
        result = subprocess.run(
            [str(BIN / "gateway"), *args, "--json"], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)} failed: {result.stderr or result.stdout}")
        return json.loads(result.stdout)

    def seed_org(self, name: str = "Bench", domain: str = "bench.example") -> Org:
        org = self.cli("org", "create", "--name", name, "--mode", "sso", "--domain", domain)
        token = self.cli("scim-token", "create", org["id"])["token"]
        key = self.cli("api-key", "create", org["id"])["token"]
        return Org(org["id"], org["slug"], token, key, domain)


@contextmanager
def gunicorn(
    app: str, port: int, env: dict[str, str], logfile: Path, workers: int = GUNICORN_WORKERS
) -> Iterator[subprocess.Popen[bytes]]:
    """``app`` served by gunicorn with the shared settings on 127.0.0.1:``port``."""
    cmd = [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *GUNICORN_ARGS,
        "--pythonpath",
        str(BENCH),
        app,
    ]
    proc = CHILDREN.start(cmd, env, logfile)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, logfile)
        yield proc
    finally:
        CHILDREN.stop(proc)


@contextmanager
def gateway_serve(gw: Gateway, port: int, workers: int, logfile: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The gateway as an operator starts it: ``gateway serve --workers N`` (its own gunicorn settings)."""
    cmd = [str(BIN / "gateway"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    proc = CHILDREN.start(cmd, gw.env, logfile)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, logfile)
        yield proc
    finally:
        CHILDREN.stop(proc)


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers of a master (its child processes), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the closing parenthesis.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master_pid:
            pids.append(int(entry.name))
    return sorted(pids)


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, or (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def _first_line(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _first_line(["git", "rev-parse", "--short=12", "HEAD"])
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT).stdout
    mem_kb = 0
    with suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": _first_line(["nproc"]),
        "cpu": cpu,
        "memory": f"{mem_kb / 1048576:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit + (" (with uncommitted changes)" if dirty.strip() else ""),
        "branch": _first_line(["git", "rev-parse", "--abbrev-ref", "HEAD"]),
        "wrk": " ".join(_first_line(["wrk", "--version"]).split()[:2])
        if _has("wrk")
        else "wrk not installed",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _has(program: str) -> bool:
    from shutil import which

    return which(program) is not None


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}x"
