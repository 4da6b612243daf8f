"""Migration 0009 keeps every existing domain verified (the operator recorded them), marks them as the
operator's, and then lets several organizations hold pending claims on one domain while only one may hold it
verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.storage.migrate import downgrade, upgrade

from .conftest import BACKENDS, create_postgres_database, drop_postgres_database

AT = "2026-01-01 00:00:00+00:00"


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def _org(conn: sa.Connection, org_id: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO organizations (id, slug, name, mode, multi_project, created_at) "
            "VALUES (:id, :id, :id, 'sso', :no, :at)"
        ),
        {"id": org_id, "no": False, "at": AT},
    )


def test_existing_domains_stay_verified_and_pending_claims_may_share_a_domain(database: str) -> None:
    upgrade(database, "0007")
    engine = sa.create_engine(database)
    try:
        with engine.begin() as conn:
            for org_id in ("org-a", "org-b", "org-c"):
                _org(conn, org_id)
            conn.execute(
                sa.text(
                    "INSERT INTO domains (id, org_id, domain, verified, created_at) VALUES "
                    "('d1', 'org-a', 'a.test', :yes, :at), ('d2', 'org-b', 'b.test', :no, :at)"
                ),
                {"yes": True, "no": False, "at": AT},
            )
        upgrade(database)
        with engine.begin() as conn:
            rows = conn.execute(sa.text("SELECT id, verified, verified_via FROM domains ORDER BY id")).all()
            assert [(r[0], bool(r[1]), r[2]) for r in rows] == [("d1", True, "operator"), ("d2", False, None)]
            conn.execute(
                sa.text(
                    "INSERT INTO domains (id, org_id, domain, verified, created_at) "
                    "VALUES ('d3', 'org-c', 'b.test', :no, :at)"
                ),
                {"no": False, "at": AT},
            )
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO domains (id, org_id, domain, verified, created_at) "
                    "VALUES ('d4', 'org-c', 'a.test', :yes, :at)"
                ),
                {"yes": True, "at": AT},
            )
        downgrade(database, "0007")
        with engine.begin() as conn:
            kept = conn.execute(sa.text("SELECT id FROM domains ORDER BY id")).scalars().all()
        assert kept == ["d1", "d2"]
    finally:
        engine.dispose()
