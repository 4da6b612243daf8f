"""The database itself holds the uniqueness rules, even when the service checks are bypassed (two processes
racing, a bug, a hand-written script): rows go straight in through a Store here, never through a service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import Conflict
from gateway.storage.db import Database

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_n = count()


def uid(prefix: str) -> str:
    return f"{prefix}-{next(_n):06d}"


def org(db: Database, name: str) -> str:
    org_id = uid("org")
    with db.transaction() as tx:
        tx.add(m.Organization(org_id, f"{name}-{org_id}", name, m.MembershipMode.INVITATION, NOW))
    return org_id


def member(org_id: str, email: str, status: m.MemberStatus = m.MemberStatus.ACTIVE) -> m.Member:
    return m.Member(
        id=uid("member"), org_id=org_id, email=email, role=m.Role.MEMBER, status=status,
        joined_via=m.JoinPath.ADMIN, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def invitation(
    org_id: str, email: str, status: m.InvitationStatus = m.InvitationStatus.PENDING
) -> m.Invitation:
    return m.Invitation(
        id=uid("inv"), org_id=org_id, email=email, role=m.Role.MEMBER, token_hash=uid("hash"), status=status,
        sent_at=NOW, expires_at=NOW + timedelta(days=7), created_at=NOW,
    )  # fmt: skip


def insert(db: Database, *rows: object) -> None:
    """Add ``rows`` in one transaction, in order (the mappers have no relationships to order them by)."""
    with db.transaction() as tx:
        for row in rows:
            tx.add(row)
            tx.session.flush()


def refused(db: Database, *rows: object) -> None:
    """The database refuses the rows: a raw ``IntegrityError``, or the domain error a service registered for
    the constraint (``gateway.storage.constraints``), which ``Database`` raises in its place."""
    with pytest.raises((sa.exc.IntegrityError, Conflict)):
        insert(db, *rows)


def count_rows(db: Database, cls: type) -> int:
    with db.transaction() as tx:
        return int(tx.session.scalar(sa.select(sa.func.count()).select_from(cls)) or 0)


# -- members ---------------------------------------------------------------------------------------------
def test_one_member_per_email_per_organization(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    insert(schema_db, member(acme, "ada@acme.test"))
    refused(schema_db, member(acme, "ada@acme.test"))
    assert count_rows(schema_db, m.Member) == 1


def test_a_removed_member_still_holds_its_email_in_its_organization(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    insert(schema_db, member(acme, "ada@acme.test", m.MemberStatus.REMOVED))
    refused(schema_db, member(acme, "ada@acme.test"))


@pytest.mark.parametrize("status", [m.MemberStatus.ACTIVE, m.MemberStatus.SUSPENDED])
def test_one_live_account_per_email_across_organizations(schema_db: Database, status: m.MemberStatus) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    insert(schema_db, member(acme, "ada@acme.test", status))
    refused(schema_db, member(globex, "ada@acme.test"))
    refused(schema_db, member(globex, "ada@acme.test", m.MemberStatus.SUSPENDED))


def test_a_removed_account_does_not_count_across_organizations(schema_db: Database) -> None:
    acme, globex, initech = org(schema_db, "acme"), org(schema_db, "globex"), org(schema_db, "initech")
    insert(schema_db, member(acme, "ada@acme.test", m.MemberStatus.REMOVED))
    insert(schema_db, member(initech, "ada@acme.test", m.MemberStatus.REMOVED))
    insert(schema_db, member(globex, "ada@acme.test"))
    assert count_rows(schema_db, m.Member) == 3


def test_a_removed_member_cannot_come_back_while_live_elsewhere(schema_db: Database) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    old = member(acme, "ada@acme.test", m.MemberStatus.REMOVED)
    insert(schema_db, old, member(globex, "ada@acme.test"))
    with pytest.raises((sa.exc.IntegrityError, Conflict)), schema_db.transaction() as tx:
        tx.session.execute(
            sa.update(m.Member).where(m.Member.id == old.id).values(status=m.MemberStatus.ACTIVE)
        )


# -- projects --------------------------------------------------------------------------------------------
def project(org_id: str, name: str, default: bool) -> m.Project:
    return m.Project(uid("project"), org_id, name, default, NOW)


def test_one_default_project_per_organization(schema_db: Database) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    insert(schema_db, project(acme, "Default Project", True), project(globex, "Default Project", True))
    refused(schema_db, project(acme, "Another default", True))
    insert(schema_db, project(acme, "Research", False), project(acme, "Ops", False))
    assert count_rows(schema_db, m.Project) == 4


def test_project_names_are_unique_per_organization(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    insert(schema_db, project(acme, "Research", False))
    refused(schema_db, project(acme, "Research", False))


def test_one_membership_per_member_per_project(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    ada, default = member(acme, "ada@acme.test"), project(acme, "Default Project", True)
    insert(schema_db, ada, default, m.ProjectMembership(uid("pm"), acme, default.id, ada.id, NOW))
    refused(schema_db, m.ProjectMembership(uid("pm"), acme, default.id, ada.id, NOW))


# -- tokens ----------------------------------------------------------------------------------------------
TOKEN_ROWS: dict[str, Callable[[str, str], object]] = {
    "api_key": lambda org_id, h: m.ApiKey(uid("key"), org_id, m.ApiKeyKind.ADMIN, "gwa_x", h, "k", NOW),
    "scim_token": lambda org_id, h: m.ScimToken(uid("scim"), org_id, "scim_x", h, "t", NOW),
    "invitation": lambda org_id, h: m.Invitation(
        uid("inv"),
        org_id,
        uid("x") + "@acme.test",
        m.Role.MEMBER,
        h,
        m.InvitationStatus.REVOKED,
        NOW,
        NOW + timedelta(days=7),
        NOW,
    ),
    "web_session": lambda org_id, h: m.WebSession(uid("sess"), h, NOW, NOW, NOW + timedelta(hours=1), org_id),
}


@pytest.mark.parametrize("kind", TOKEN_ROWS)
def test_token_hashes_are_unique_even_across_organizations(schema_db: Database, kind: str) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    insert(schema_db, TOKEN_ROWS[kind](acme, "a" * 64))
    refused(schema_db, TOKEN_ROWS[kind](globex, "a" * 64))
    insert(schema_db, TOKEN_ROWS[kind](globex, "b" * 64))


# -- invitations -----------------------------------------------------------------------------------------
def test_one_pending_invitation_per_email_per_organization(schema_db: Database) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    insert(schema_db, invitation(acme, "ada@acme.test"))
    refused(schema_db, invitation(acme, "ada@acme.test"))
    insert(
        schema_db,
        invitation(globex, "ada@acme.test"),
        invitation(acme, "ada@acme.test", m.InvitationStatus.REVOKED),
        invitation(acme, "ada@acme.test", m.InvitationStatus.ACCEPTED),
        invitation(acme, "bob@acme.test"),
    )
    assert count_rows(schema_db, m.Invitation) == 5


# -- organizations, domains, connections -----------------------------------------------------------------
def test_slugs_and_verified_domains_are_globally_unique(schema_db: Database) -> None:
    acme, globex = org(schema_db, "acme"), org(schema_db, "globex")
    refused(schema_db, m.Organization(uid("org"), "dup", "A", m.MembershipMode.SSO, NOW),
            m.Organization(uid("org"), "dup", "B", m.MembershipMode.SSO, NOW))  # fmt: skip
    insert(schema_db, m.Domain(uid("dom"), acme, "acme.test", True, NOW))
    refused(schema_db, m.Domain(uid("dom"), globex, "acme.test", True, NOW))
    # Pending claims of several organizations may coexist; one organization claims a domain once.
    insert(schema_db, m.Domain(uid("dom"), globex, "acme.test", False, NOW))
    refused(schema_db, m.Domain(uid("dom"), globex, "acme.test", False, NOW))
    connection = lambda org_id: m.SsoConnection(  # noqa: E731
        uid("conn"), org_id, "okta", m.ConnectionProtocol.SAML, "Okta", NOW
    )
    insert(schema_db, connection(acme))
    refused(schema_db, connection(globex))


def test_rows_must_belong_to_an_existing_organization(schema_db: Database) -> None:
    refused(schema_db, member("no-such-org", "ada@acme.test"))


# -- the whole transaction or nothing --------------------------------------------------------------------
def test_a_violation_rolls_back_the_whole_transaction(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    insert(schema_db, member(acme, "ada@acme.test"))
    refused(
        schema_db,
        member(acme, "bob@acme.test"),
        invitation(acme, "cy@acme.test"),
        member(acme, "ada@acme.test"),
    )
    assert count_rows(schema_db, m.Member) == 1
    assert count_rows(schema_db, m.Invitation) == 0


def test_store_flush_turns_a_violation_into_a_conflict_and_writes_nothing(schema_db: Database) -> None:
    acme = org(schema_db, "acme")
    insert(schema_db, member(acme, "ada@acme.test"))
    with pytest.raises(Conflict, match="already taken"), schema_db.transaction() as tx:
        tx.add(member(acme, "bob@acme.test"))
        tx.flush()
        tx.add(member(acme, "ada@acme.test"))
        tx.flush("That email is already taken.")
    assert count_rows(schema_db, m.Member) == 1
