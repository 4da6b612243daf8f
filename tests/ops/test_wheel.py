"""Installed the way a deployment installs it: the wheel, in a fresh virtualenv, outside the source tree, serves
the gateway (migrations, an organization, a SAML connection from the Okta preset, ``serve``, a SCIM request).

To stay fast and offline the fresh virtualenv sees the test environment's third-party packages through a
``.pth`` line (not the source tree, nor its editable install); that the wheel declares every third-party
package it imports is checked against the wheel's own metadata."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import requests
from ops_live import gateway_env, run_gateway, serving
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "scim", "saml")
FIXTURES = ROOT / "tests" / "saml" / "fixtures"


def okta_metadata(tmp_path: Path) -> Path:
    """Okta's metadata fixture with the test IdP's signing certificate filled in."""
    pem = (FIXTURES / "keys" / "idp.crt").read_text()
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    path = tmp_path / "okta-metadata.xml"
    path.write_text((FIXTURES / "okta" / "metadata.xml").read_text().replace("{CERT}", body))
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("identity_gateway-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (purelib / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
         "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return venv


def third_party_imports() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in PACKAGES and n != "__future__"}


def test_the_wheel_declares_its_dependencies_and_ships_its_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in files if n.endswith(".dist-info/METADATA"))
    assert "gateway/config/defaults.toml" in files
    assert "gateway/config/presets/okta.toml" in files
    assert "gateway/storage/migrations/env.py" in files
    declared = {
        Requirement(line.split(":", 1)[1]).name.lower().replace("_", "-")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    providers = packages_distributions()
    missing = {
        module: providers.get(module)
        for module in third_party_imports()
        if not {d.lower().replace("_", "-") for d in providers.get(module, [])} & declared
        and not module.startswith("onelogin")  # python3-saml's import name
    }
    assert "python3-saml" in declared
    assert missing == {}, f"imported at run time but not declared in [project] dependencies: {missing}"


def test_the_installed_wheel_serves_the_gateway(tmp_path: Path, wheel: Path) -> None:
    venv = fresh_venv(tmp_path, wheel)
    gateway = str(venv / "bin" / "gateway")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert str(venv) in where, where
    env = gateway_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'gateway.db'}")
    run_gateway(env, "db", "upgrade", executable=gateway)
    run_gateway(
        env, "org", "create", "--name", "Acme", "--mode", "sso", "--domain", "acme.com", executable=gateway
    )
    added = json.loads(
        run_gateway(
            env,
            "connection",
            "add-saml",
            "acme",
            "--metadata",
            str(okta_metadata(tmp_path)),
            "--preset",
            "okta",
            "--json",
            executable=gateway,
        )
    )
    assert added["preset"] == "okta"
    token = json.loads(run_gateway(env, "scim-token", "create", "acme", "--json", executable=gateway))[
        "token"
    ]
    with serving(env, workers=1, executable=gateway) as base:
        response = requests.post(
            base + "/scim/v2/Users",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.com"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        assert requests.get(base + "/readyz", timeout=30).json()["status"] == "ok"
