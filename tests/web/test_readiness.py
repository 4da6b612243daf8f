"""``/readyz`` is ready only when the database answers and its schema is at the head revision; ``gateway
serve`` refuses an un-migrated database and prints the command to run."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from gateway.cli import _load_commands, cli
from gateway.storage.migrate import head_revision, upgrade

_load_commands()


def _drop_version(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def test_readyz_refuses_a_database_that_was_never_migrated(client: FlaskClient, db_url: str) -> None:
    _drop_version(db_url)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "schema": "not_migrated"}
    assert "gateway db upgrade" in response.json["detail"]


def test_readyz_is_ready_at_the_head_revision(tmp_path: Path) -> None:
    from gateway.app import create_app
    from gateway.settings import load_settings

    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    app = create_app(
        settings=load_settings(
            {"database_url": url, "instance_path": str(tmp_path / "i"), "secret_key": "k" * 32}
        )
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["revision"] == head_revision()
    app.extensions["gateway.services"].db.dispose()


def test_serve_refuses_an_unmigrated_database_with_the_command_to_run(
    app: Flask, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "serve-instance"))
    _drop_version(db_url)
    result = app.test_cli_runner().invoke(cli, ["serve", "--bind", "127.0.0.1:0"])
    assert result.exit_code == 2
    assert "Run: gateway db upgrade" in result.output


def test_readyz_stays_ready_on_a_newer_schema_during_a_rolling_upgrade(
    client: FlaskClient, db_url: str
) -> None:
    """A newer release ran its expand migration: this (older) process keeps serving until it is replaced."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('9999_from_a_newer_release')"))
    engine.dispose()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["schema"] == "ahead"


def test_readyz_refuses_an_older_revision(client: FlaskClient, db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    engine.dispose()
    assert client.get("/readyz").status_code == 503


def test_serve_refuses_an_address_another_server_listens_on(
    app: Flask, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker listens with SO_REUSEPORT, which would share the port with a server still running."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", db_url)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "serve-instance"))
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = app.test_cli_runner().invoke(cli, ["serve", "--bind", f"127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port} is already in use" in result.output
