"""Dependencies point inward (DESIGN.md "Architecture"): the domain imports no framework, the services no web
framework, and protocol adapters never import each other. Checked on the source (every import statement,
including those inside functions) and, for the domain, on what importing it really loads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FRAMEWORKS = {"flask", "sqlalchemy", "marshmallow", "onelogin", "authlib", "saml2", "werkzeug"}
DOMAIN_ALSO_FORBIDDEN = {"alembic", "psycopg", "lxml", "xmlsec", "requests", "jinja2", "click"}
WEB = {"flask", "werkzeug", "marshmallow", "jinja2", "click"}

# Protocol adapters: each calls services, none calls another.
ADAPTERS = {
    "scim": "scim",
    "saml": "saml",
    "oidc": "gateway.oidc",
    "api": "gateway.api",
    "cli": "gateway.cli",
    "console": "gateway.console",
    "demo_idp": "gateway.demo_idp",
}
# What only the outer ring may import: adapters and the Flask wiring.
OUTER = {*ADAPTERS.values(), "gateway.web", "gateway.app", "gateway.wiring", "gateway.wsgi"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module ``source`` imports (nested imports too, relative ones resolved)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def sources(package: str) -> list[Path]:
    directory = ROOT.joinpath(*package.split("."))
    return sorted(p for p in directory.rglob("*.py") if "migrations" not in p.parts)


def violations(package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources(package)
        for name in sorted(imports_of(path))
        if any(within(name, f) for f in forbidden)
    ]


def test_the_checker_sees_relative_and_nested_imports() -> None:
    source = "from ..storage import db\nimport flask.json\ndef f():\n    from sqlalchemy import orm\nfrom . import errors\n"
    found = imports_in(source, "gateway.domain.sample", is_package=False)
    assert {
        "gateway.storage",
        "gateway.storage.db",
        "flask.json",
        "sqlalchemy",
        "gateway.domain.errors",
    } <= found
    assert "gateway.domain.errors" in imports_of(ROOT / "gateway" / "domain" / "policy.py")
    assert len(sources("gateway.domain")) >= 3


def test_the_domain_imports_no_framework() -> None:
    assert violations("gateway.domain", FRAMEWORKS | DOMAIN_ALSO_FORBIDDEN) == []


def test_the_domain_imports_nothing_outside_itself_from_the_gateway() -> None:
    outward = {
        "gateway.services",
        "gateway.storage",
        *OUTER,
        "gateway.outbox",
        "gateway.settings",
        "gateway.presets",
    }
    assert violations("gateway.domain", outward) == []


def test_importing_the_domain_loads_no_framework() -> None:
    modules = [module_name(p) for p in sources("gateway.domain")]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert "gateway.domain.policy" in loaded
    offenders = sorted(
        name for name in loaded if any(within(name, f) for f in FRAMEWORKS | DOMAIN_ALSO_FORBIDDEN)
    )
    assert offenders == []
    assert not [
        name for name in loaded if within(name, "gateway.storage") or within(name, "gateway.services")
    ]


def test_the_services_import_no_web_framework_and_no_adapter() -> None:
    assert violations("gateway.services", WEB | {"onelogin", "saml2", "authlib"} | OUTER) == []


def test_storage_imports_no_web_framework_and_no_adapter() -> None:
    assert violations("gateway.storage", WEB | {"onelogin", "saml2"} | OUTER) == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_never_import_each_other(adapter: str) -> None:
    others = {package for name, package in ADAPTERS.items() if name != adapter}
    # The console script is an entry point: it builds the app (create_app) to run commands in its context.
    wiring = {"gateway.wsgi"} if adapter == "cli" else {"gateway.app", "gateway.wsgi"}
    assert violations(ADAPTERS[adapter], others | wiring) == []
