"""PostgreSQL: a sign-in takes its email's join lock in the statement that locks the organization.

``Store.lock_email`` serializes the joins of one email in one organization (a SCIM push racing the person's
first sign-in). A sign-in locks the organization and then that email at once, so ``Store.org(..., email=...)``
takes both in one statement; the join lock must then be the very lock ``lock_email`` takes (else the two
paths would not serialize), and ``lock_email`` must not send it again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage import hot_statements as hot
from gateway.storage.db import Database
from gateway.storage.store import SHARE

from .conftest import postgresql_only

CLI = m.Actor.cli()
EMAIL = "ada@acme.test"


@pytest.fixture
def pg(db: Database) -> Database:
    return postgresql_only(db, "SQLite's write lock serializes every join; there is no join lock to fold")


def _held_elsewhere(db: Database, org_id: str, email: str) -> bool:
    """Whether another transaction holds the join lock ``lock_email`` takes for ``email``."""
    with db.engine.connect() as other, other.begin():
        free = other.execute(
            sa.text("SELECT pg_try_advisory_xact_lock(:kind, hashtext(:key))"),
            {"kind": hot._EMAIL_JOINS, "key": f"{org_id}:{email}"},
        ).scalar()
        return not free


def test_the_organization_read_takes_the_join_lock_of_lock_email(
    pg: Database, services: Services, sent: list[str]
) -> None:
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    with pg.transaction() as tx:
        assert tx.org(org.id, lock=SHARE, email=EMAIL) is not None
        assert _held_elsewhere(pg, org.id, EMAIL)
        assert not _held_elsewhere(pg, org.id, "grace@acme.test")
        sent.clear()
        tx.lock_email(org.id, EMAIL)
        assert sent == [], "the join lock is held already: nothing to send"
        tx.lock_email(org.id, "grace@acme.test")
        assert len(sent) == 1 and "pg_advisory_xact_lock" in sent[0]
        assert _held_elsewhere(pg, org.id, "grace@acme.test")
    assert not _held_elsewhere(pg, org.id, EMAIL), "released with the transaction"


def test_a_sign_in_waits_for_a_join_of_its_email(pg: Database, services: Services) -> None:
    """A SCIM push holding the email's join lock makes the sign-in's organization read wait for it."""
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    with pg.engine.connect() as push, push.begin():
        push.execute(hot.LOCK_EMAIL, {"key": f"{org.id}:{EMAIL}"})
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"), pg.transaction() as tx:
            tx.session.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
            tx.org(org.id, lock=SHARE, email=EMAIL)


def test_a_lock_taken_in_a_savepoint_that_rolled_back_is_taken_again(
    pg: Database, services: Services, sent: list[str]
) -> None:
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    with pg.transaction() as tx:
        savepoint = tx.session.begin_nested()
        tx.org(org.id, lock=SHARE, email=EMAIL)
        savepoint.rollback()
        tx.forget_locks()
        sent.clear()
        tx.lock_email(org.id, EMAIL)
        assert len(sent) == 1
        assert _held_elsewhere(pg, org.id, EMAIL)
