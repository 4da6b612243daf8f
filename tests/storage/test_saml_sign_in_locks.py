"""PostgreSQL: the replay cache's INSERT takes the locks the sign-in that follows takes first.

After the assertion's checks, a sign-in records the assertion ID (a replay is refused), then locks its
organization shared and the email's join lock (``Store.org(..., email=...)``), then reads the member.
``SamlStore.record_assertion_locking_sign_in`` does the first two in one statement; the locks must then be the
very locks the sign-in takes (else a mode switch or a SCIM push of the same email would not wait for it), and
the sign-in's own ``org`` and ``lock_email`` must send nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
from gateway.storage.saml_store import SamlStore
from gateway.storage.saml_tables import SamlAssertionSeen, SamlRequest
from gateway.storage.store import SHARE
from gateway.storage.tables import sso_connections

from .conftest import postgresql_only

CLI = m.Actor.cli()
EMAIL = "ada@acme.test"


@pytest.fixture
def pg(db: Database) -> Database:
    return postgresql_only(db, "SQLite's write lock serializes every sign-in; there are no locks to fold")


@pytest.fixture
def org_and_connection(pg: Database, services: Services) -> tuple[m.Organization, str]:
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    with pg.engine.begin() as conn:
        conn.execute(
            sa.insert(sso_connections).values(
                id="conn-1",
                org_id=org.id,
                slug="acme-okta",
                protocol=m.ConnectionProtocol.SAML,
                name="Okta",
                enabled=True,
                suspended=False,
                preset="okta",
                config={},
                created_at=services.clock(),
            )
        )
    return org, "conn-1"


def _seen(services: Services, org_id: str, connection_id: str, assertion_id: str) -> SamlAssertionSeen:
    now = services.clock()
    return SamlAssertionSeen(connection_id, assertion_id, org_id, now, now + timedelta(minutes=5))


def _taken_elsewhere(db: Database, sql: str, params: dict[str, object]) -> bool:
    """Whether another transaction, trying ``sql`` (a lock it cannot wait for), finds it held."""
    with db.engine.connect() as other, other.begin():
        other.execute(sa.text("SET LOCAL lock_timeout = '100ms'"))
        try:
            return not other.execute(sa.text(sql), params).scalar()
        except sa.exc.OperationalError:
            return True


def _email_lock_held(db: Database, org_id: str, email: str) -> bool:
    sql = "SELECT pg_try_advisory_xact_lock(:kind, hashtext(:key))"
    return _taken_elsewhere(db, sql, {"kind": hot._EMAIL_JOINS, "key": f"{org_id}:{email}"})


def _gate_held_shared(db: Database, org_id: str) -> bool:
    """A mode switch's exclusive gate cannot be had, while another change's shared one can."""
    exclusive = "SELECT pg_try_advisory_xact_lock(:kind, hashtext(:org_id))"
    shared = "SELECT pg_try_advisory_xact_lock_shared(:kind, hashtext(:org_id))"
    params = {"kind": hot._ORG_GATE, "org_id": org_id}
    return _taken_elsewhere(db, exclusive, params) and not _taken_elsewhere(db, shared, params)


def _row_locked(db: Database, org_id: str) -> bool:
    return _taken_elsewhere(
        db, "SELECT id IS NOT NULL FROM organizations WHERE id = :org_id FOR UPDATE", {"org_id": org_id}
    )


def test_recording_the_assertion_takes_the_sign_ins_locks(
    pg: Database, services: Services, org_and_connection: tuple[m.Organization, str], sent: list[str]
) -> None:
    org, connection_id = org_and_connection
    with pg.transaction() as tx:
        outcome = SamlStore(tx).record_assertion_locking_sign_in(
            _seen(services, org.id, connection_id, "a-1"), EMAIL, None
        )
        assert outcome[:2] == (True, None)
        assert len(sent) == 1
        assert outcome[2] == tx.connection_revision(connection_id) != "", (
            "the connection's revision comes along"
        )
        assert _email_lock_held(pg, org.id, EMAIL)
        assert not _email_lock_held(pg, org.id, "grace@acme.test")
        assert _gate_held_shared(pg, org.id)
        assert _row_locked(pg, org.id)
        sent.clear()
        locked = tx.org(org.id, lock=SHARE, email=EMAIL)
        assert locked is not None and locked.id == org.id and locked.mode is m.MembershipMode.SSO
        tx.lock_email(org.id, EMAIL)
        assert sent == [], "the sign-in's locks are held already: nothing to send"
    assert not _email_lock_held(pg, org.id, EMAIL), "released with the transaction"
    assert not _row_locked(pg, org.id)


def test_a_replay_is_told_apart(
    pg: Database, services: Services, org_and_connection: tuple[m.Organization, str]
) -> None:
    org, connection_id = org_and_connection
    for expected in (True, False):
        with pg.transaction() as tx:
            outcome = SamlStore(tx).record_assertion_locking_sign_in(
                _seen(services, org.id, connection_id, "a-1"), EMAIL, None
            )
            assert outcome[:2] == (expected, None)


def test_the_request_the_assertion_answers_is_taken_once(
    pg: Database, services: Services, org_and_connection: tuple[m.Organization, str]
) -> None:
    org, connection_id = org_and_connection
    now = services.clock()
    browser = hashlib.sha256(b"browser").hexdigest()
    with pg.transaction() as tx:
        tx.add(SamlRequest("req-1", org.id, connection_id, "authn", now, now + timedelta(minutes=5), browser))
    request = ("req-1", "authn", now)
    with pg.transaction() as tx:
        store = SamlStore(tx)
        assert store.record_assertion_locking_sign_in(
            _seen(services, org.id, connection_id, "a-1"), EMAIL, request
        )[:2] == (True, (browser,))
    with pg.transaction() as tx:
        store = SamlStore(tx)
        assert store.record_assertion_locking_sign_in(
            _seen(services, org.id, connection_id, "a-2"), EMAIL, request
        )[:2] == (True, None), "the request was taken by the first answer"
        assert store.record_assertion_locking_sign_in(
            _seen(services, org.id, connection_id, "a-2"), EMAIL, ("req-2", "authn", now)
        )[:2] == (False, None)


def test_an_assertion_for_a_deleted_connection_is_not_recorded(
    pg: Database, services: Services, org_and_connection: tuple[m.Organization, str]
) -> None:
    org, connection_id = org_and_connection
    with pg.engine.begin() as conn:
        conn.execute(sa.delete(sso_connections).where(sso_connections.c.id == connection_id))
    with pg.transaction() as tx:
        outcome = SamlStore(tx).record_assertion_locking_sign_in(
            _seen(services, org.id, connection_id, "a-1"), EMAIL, None
        )
        assert outcome == (False, None, None), "no row (no foreign key violation) and no revision"
