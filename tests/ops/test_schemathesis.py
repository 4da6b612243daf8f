"""Schemathesis (PyPI) against a live ``gateway serve`` with the OpenAPI document it serves, once with an admin
API key and once with a Member's project key: no 5xx, and every response within the documented statuses,
content types and schemas. Bounded (a few examples per operation, fixed seed) to stay around a minute."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from ops_live import gateway_env, run_gateway, serving

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def fuzz(base: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SCHEMATHESIS, "run", f"{base}/api/v1/openapi.json",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {token}",
            "--phases", "examples,fuzzing",
            "--max-examples", "3",
            "--seed", "20261204",
            "--no-shrink",
            # One thread: two call hypothesis' ast.parse at once, which CPython 3.11.7 can fail with
            # "SystemError: AST constructor recursion depth mismatch" (seen once in CI).
            "--workers", "1",
            "--request-timeout", "30",
            "--wait-for-schema", "60",
        ],
        capture_output=True, text=True, timeout=300, cwd=report.parent,
    )  # fmt: skip


@pytest.fixture
def live(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = gateway_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'gateway.db'}")
    run_gateway(env, "db", "upgrade")
    org = json.loads(
        run_gateway(env, "org", "create", "--name", "Acme", "--mode", "sso", "--domain", "acme.com", "--json")
    )
    admin_key = json.loads(run_gateway(env, "api-key", "create", "acme", "--json"))["token"]
    scim_token = json.loads(run_gateway(env, "scim-token", "create", "acme", "--json"))["token"]
    with serving(env, workers=2) as base:
        user = requests.post(
            f"{base}/scim/v2/Users",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.com"},
            headers={"Authorization": f"Bearer {scim_token}"},
            timeout=30,
        )
        assert user.status_code == 201, user.text
        project = org["default_project"]["id"]
        key = requests.post(
            f"{base}/api/v1/projects/{project}/api-keys",
            json={"member_id": user.json()["id"], "name": "fuzz"},
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )
        assert key.status_code == 201, key.text
        yield base, {"admin": admin_key, "member": key.json()["token"]}


def test_the_api_keeps_its_contract_under_schemathesis(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, keys = live
    for who, token in keys.items():
        run = fuzz(base, token, tmp_path / f"{who}-junit.xml")
        assert run.returncode == 0, (
            f"schemathesis with the {who} key:\n{run.stdout[-12000:]}\n{run.stderr[-2000:]}"
        )
        assert " passed" in run.stdout
