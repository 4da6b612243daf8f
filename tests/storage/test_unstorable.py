"""Text the database cannot hold is the caller's mistake: it becomes InvalidInput (a clear 400 in every adapter),
never a driver error, and nothing of the transaction is written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.domain import model as m
from gateway.domain.errors import InvalidInput
from gateway.storage.db import Database

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def add_org(db: Database, name: str) -> None:
    with db.transaction() as tx:
        tx.add(m.Organization("org-1", "acme", name, m.MembershipMode.SSO, NOW))


def test_an_unpaired_surrogate_is_invalid_input(db: Database) -> None:
    with pytest.raises(InvalidInput, match="cannot be stored"):
        add_org(db, "Acme \ud800")
    with db.transaction() as tx:
        assert tx.org("org-1") is None


def test_nul_and_overlong_text_are_invalid_input_where_the_database_refuses_them(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores NUL bytes and ignores VARCHAR lengths")
    for name in ("Acme\x00", "A" * 201):
        with pytest.raises(InvalidInput, match="cannot be stored"):
            add_org(db, name)
    with db.transaction() as tx:
        assert tx.org("org-1") is None


def test_the_database_stays_usable_afterwards(db: Database) -> None:
    with pytest.raises(InvalidInput):
        add_org(db, "Acme \udfff")
    add_org(db, "Acme")
    with db.transaction() as tx:
        assert tx.org("org-1").name == "Acme"  # type: ignore[union-attr]
