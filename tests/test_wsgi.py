"""The WSGI entry point gunicorn loads (``gateway.wsgi:app``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_entry_point_builds_the_app_and_freezes_what_start_up_made(tmp_path: Path) -> None:
    """Objects made at start-up live as long as the worker; they are moved out of the garbage collector's
    generations (``gc.freeze``), so its full collections do not scan them on every request that triggers one."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'wsgi.db'}",
        "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "GATEWAY_SECRET_KEY": "wsgi-test-secret-key-0123456789abcdef",
    }
    probe = "import gc, gateway.wsgi as w; print(type(w.app).__name__, gc.get_freeze_count() > 10000)"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["Flask", "True"]
