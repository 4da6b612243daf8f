"""Every write of an SSO connection's row draws a new ``revision`` (a trigger, in the schema the models build and
in the one the migrations build, on both stores): what a process's kept copy of a connection is checked
against (``gateway.services.kept_connections``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.db import Database
from gateway.storage.tables import sso_connections

from .conftest import insert_org


def _insert(db: Database, org_id: str, connection_id: str, slug: str) -> None:
    row = {
        "id": connection_id,
        "org_id": org_id,
        "slug": slug,
        "protocol": m.ConnectionProtocol.SAML,
        "name": "Okta",
        "enabled": True,
        "suspended": False,
        "preset": "okta",
        "config": {"idp_entity_id": "https://idp.example"},
        "created_at": datetime(2026, 12, 8, tzinfo=UTC),
    }
    with db.engine.begin() as conn:
        conn.execute(sa.insert(sso_connections), row)


def _revision(db: Database, connection_id: str) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(sso_connections.c.revision).where(sso_connections.c.id == connection_id)
            ).scalar_one()
        )


def _write(db: Database, sql: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_every_write_of_a_connection_draws_a_new_revision(schema_db: Database) -> None:
    org = insert_org(schema_db)
    _insert(schema_db, org, "conn-1", "acme-okta")
    _insert(schema_db, org, "conn-2", "acme-entra")
    first = _revision(schema_db, "conn-1")
    assert re.fullmatch(r"[0-9a-f]{32}", first), first
    assert _revision(schema_db, "conn-2") != first

    seen = {first}
    writes = [
        ("UPDATE sso_connections SET name = 'Okta SSO' WHERE id = :id", {}),
        ("UPDATE sso_connections SET enabled = :off WHERE id = :id", {"off": False}),
        ("UPDATE sso_connections SET config = :config WHERE id = :id", {"config": '{"idp_entity_id": "x"}'}),
        # Writing the values the row already holds is a write too.
        ("UPDATE sso_connections SET name = name WHERE id = :id", {}),
    ]
    for sql, params in writes:
        _write(schema_db, sql, id="conn-1", **params)
        revision = _revision(schema_db, "conn-1")
        assert re.fullmatch(r"[0-9a-f]{32}", revision), revision
        assert revision not in seen, sql
        seen.add(revision)


def test_a_write_that_sets_the_revision_itself_still_gets_a_new_one(schema_db: Database) -> None:
    org = insert_org(schema_db)
    _insert(schema_db, org, "conn-1", "acme-okta")
    before = _revision(schema_db, "conn-1")
    _write(
        schema_db,
        "UPDATE sso_connections SET revision = :kept, name = 'x' WHERE id = :id",
        kept=before,
        id="conn-1",
    )
    assert _revision(schema_db, "conn-1") != before
