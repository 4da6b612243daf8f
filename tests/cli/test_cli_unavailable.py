"""A CLI command against an unreachable database says so and exits 1 (no traceback)."""

from __future__ import annotations

from pathlib import Path

from gateway.app import create_app
from gateway.cli import _load_commands, cli
from gateway.settings import load_settings

_load_commands()


def test_org_list_reports_an_unreachable_database(tmp_path: Path) -> None:
    app = create_app(
        settings=load_settings(
            {
                "database_url": "postgresql+psycopg://postgres@127.0.0.1:9/gateway?connect_timeout=2",
                "instance_path": str(tmp_path / "instance"),
                "secret_key": "test-secret-key",
            }
        )
    )
    result = app.test_cli_runner().invoke(cli, ["org", "list", "--json"])
    assert result.exit_code == 1, result.output
    assert '"error": "database_unavailable"' in result.output
    app.extensions["gateway.services"].db.dispose()
