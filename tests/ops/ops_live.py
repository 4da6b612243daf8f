"""A real ``gateway serve`` (gunicorn) on a loopback port, for tests that need several worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

GATEWAY = shutil.which("gateway", path=str(Path(sys.executable).parent)) or "gateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_env(instance: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
    env.update(
        GATEWAY_INSTANCE_PATH=str(instance),
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_SECRET_KEY="live-test-secret-key-0123456789abcdef",
        GATEWAY_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def run_gateway(env: dict[str, str], *args: str, executable: str = GATEWAY) -> str:
    done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@contextmanager
def serving(
    env: dict[str, str], workers: int = 2, executable: str = GATEWAY, ready_within: float = 90.0
) -> Iterator[str]:
    """``gateway serve --workers N`` until the block ends; yields its base URL once /readyz answers 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [executable, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gateway serve exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if requests.get(base + "/readyz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gateway serve did not become ready in time")
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
