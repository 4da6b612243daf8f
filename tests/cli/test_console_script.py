"""The installed ``gateway`` console script end to end, in a fresh instance folder (SQLite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GATEWAY = shutil.which("gateway", path=str(Path(sys.executable).parent)) or "gateway"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "GATEWAY_INSTANCE_PATH": str(tmp_path / "instance"), "GATEWAY_DATABASE_URL": ""}


def gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], env=env, capture_output=True, text=True, timeout=120)


def test_db_upgrade_then_org_create_and_dry_run(env: dict[str, str]) -> None:
    upgraded = gateway(env, "db", "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["revision"]
    created = gateway(env, "org", "create", "--name", "Acme", "--mode", "invitation", "--json")
    assert created.returncode == 0, created.stderr
    org = json.loads(created.stdout)
    assert org["default_project"]["name"] == "Default Project"
    dry = gateway(env, "mode", "set", "acme", "sso", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["allowed"] is False
    listed = json.loads(gateway(env, "org", "list", "--json").stdout)
    assert [o["mode"] for o in listed] == ["invitation"]
    assert (Path(env["GATEWAY_INSTANCE_PATH"]) / "secret_key").stat().st_mode & 0o077 == 0


def test_a_database_that_was_never_migrated_gets_a_clear_message(env: dict[str, str]) -> None:
    result = gateway(env, "org", "list")
    assert result.returncode == 1
    assert "Run `gateway db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr
