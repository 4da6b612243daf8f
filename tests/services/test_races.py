"""Concurrent use cases resolve to one consistent outcome on both backends (rule 1's race, rule 7's race).

Deterministic, without sleeps: the first use case runs in a thread whose clock blocks on an event the first
time it is read, which every use case here does only after taking the organization lock. While it is held
there, the second use case starts in another thread and must wait for the lock (on PostgreSQL the test sees
it waiting in ``pg_locks``; on SQLite a bounded join shows it has not finished). Then the first is released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import (
    AccountInOtherOrganization,
    DomainError,
    Forbidden,
    InvitationRevoked,
    InvitationUsed,
    LastAdmin,
    ModeForbids,
)
from gateway.services import Services
from gateway.services.members import Profile
from gateway.storage.db import Database

from .conftest import CLI, IDP, Clock, Org, invite_and_accept, make_org

LOCK_WAIT = 10.0  # upper bound for a blocked thread to show up as waiting; never a measure of speed


class GateClock:
    """A clock that, once armed, stops its caller at the ``stop_at``-th reading until the test releases it."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.armed = False
        self.stop_at = 1
        self.readings = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> datetime:
        if self.armed:
            self.readings += 1
            if self.readings == self.stop_at:
                self.armed = False
                self.entered.set()
                if not self.release.wait(30):
                    raise RuntimeError("the test never released the gate")
        return self.clock()


class Run(threading.Thread):
    """A use case in its own thread, keeping its result or its domain error."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # reported by the test's assertions
            self.error = exc


@pytest.fixture
def second_process(db_url: str, db: Database, clock: Clock) -> Iterator[tuple[Services, GateClock, Services]]:
    """Two more gateways on the same database, as two processes would be: one gated, one plain."""
    gate = GateClock(clock)
    gated_db, plain_db = Database(db_url), Database(db_url)
    yield Services(gated_db, clock=gate), gate, Services(plain_db, clock=clock)
    gate.release.set()
    gated_db.dispose()
    plain_db.dispose()


def waiting_for_lock(db: Database, thread: threading.Thread) -> None:
    """Prove ``thread`` is blocked behind the first transaction's lock and has not finished."""
    if db.engine.dialect.name == "postgresql":
        query = sa.text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
        waited = threading.Event()
        for _ in range(int(LOCK_WAIT / 0.05)):
            with db.engine.connect() as conn:
                if conn.scalar(query):
                    break
            waited.wait(0.05)
        else:
            pytest.fail("the second transaction never waited for the organization lock")
    else:
        thread.join(timeout=0.5)
    assert thread.is_alive(), "the second use case finished while the first held the organization lock"


def race(first: Run, gate: GateClock, second: Run, db: Database, *, must_wait: bool = True) -> None:
    gate.armed = True
    first.start()
    assert gate.entered.wait(LOCK_WAIT), "the first use case never reached its gate"
    second.start()
    if must_wait:
        waiting_for_lock(db, second)
    gate.release.set()
    first.join(LOCK_WAIT * 3)
    second.join(LOCK_WAIT * 3)
    assert not first.is_alive() and not second.is_alive()
    for run in (first, second):
        if run.error is not None and not isinstance(run.error, DomainError):
            raise run.error


@pytest.fixture
def switchable(services: Services, acme: Org) -> tuple[Org, str, m.Invitation]:
    """Acme in invitation mode, an SSO connection ready, and one pending invitation."""
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    issued = services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    return acme, issued.token, issued.invitation


def final_state(
    services: Services, org: Org, invitation: m.Invitation
) -> tuple[m.Invitation, list[m.Member]]:
    stored = services.invitations.get(org.id, invitation.id)
    members, _ = services.members.list(org.id, query="ada@")
    assert services.orgs.get(org.id).org.mode is m.MembershipMode.SSO
    assert not (stored.status is m.InvitationStatus.ACCEPTED and stored.revoked_at is not None)
    assert not (members and stored.status is m.InvitationStatus.REVOKED)
    assert not (not members and stored.status is m.InvitationStatus.ACCEPTED)
    return stored, members


def test_accept_then_switch_to_sso_keeps_the_member(
    services: Services,
    db: Database,
    switchable: tuple[Org, str, m.Invitation],
    second_process: tuple[Services, GateClock, Services],
) -> None:
    org, token, invitation = switchable
    gated, gate, plain = second_process
    accept = Run(lambda: gated.invitations.accept(token, "ada@acme.test", CLI))
    switch = Run(lambda: plain.mode.apply(org.id, m.MembershipMode.SSO, org.by_admin))

    race(accept, gate, switch, db)

    assert accept.error is None and switch.error is None
    assert switch.result.invitations_to_revoke == []
    assert switch.result.members_kept == 2
    stored, members = final_state(services, org, invitation)
    assert stored.status is m.InvitationStatus.ACCEPTED
    assert [x.id for x in members] == [accept.result.id]
    assert [p.name for p in services.members.get(org.id, accept.result.id).projects] == ["Default Project"]


def test_switch_to_sso_then_accept_is_refused(
    services: Services,
    db: Database,
    switchable: tuple[Org, str, m.Invitation],
    second_process: tuple[Services, GateClock, Services],
) -> None:
    org, token, invitation = switchable
    gated, gate, plain = second_process
    switch = Run(lambda: gated.mode.apply(org.id, m.MembershipMode.SSO, org.by_admin))
    accept = Run(lambda: plain.invitations.accept(token, "ada@acme.test", CLI))

    race(switch, gate, accept, db)

    assert switch.error is None
    assert switch.result.invitations_to_revoke == [invitation.id]
    assert isinstance(accept.error, ModeForbids)
    stored, members = final_state(services, org, invitation)
    assert stored.status is m.InvitationStatus.REVOKED
    assert members == []
    assert services.audit.list(org.id, action="invitation.accepted")[1] == 0


@pytest.mark.parametrize(
    ("first_change", "second_change"),
    [("demote", "demote"), ("remove", "suspend")],
    ids=["demote-demote", "remove-suspend"],
)
def test_two_admins_removing_each_other_leave_one_admin(
    services: Services,
    db: Database,
    acme: Org,
    second_process: tuple[Services, GateClock, Services],
    first_change: str,
    second_change: str,
) -> None:
    other = invite_and_accept(services, acme, "bob@acme.test", m.Role.ADMIN)
    gated, gate, plain = second_process

    def change(svc: Services, kind: str, target: m.Member, actor: m.Member) -> Callable[[], object]:
        who = m.Actor(m.ActorType.ADMIN, id=actor.id, label=actor.email)
        if kind == "demote":
            return lambda: svc.members.change_role(acme.id, target.id, m.Role.MEMBER, who)
        if kind == "remove":
            return lambda: svc.members.remove(acme.id, target.id, who)
        return lambda: svc.members.suspend(acme.id, target.id, who)

    first = Run(change(gated, first_change, acme.admin, other))
    second = Run(change(plain, second_change, other, acme.admin))

    race(first, gate, second, db)

    assert first.error is None
    assert isinstance(second.error, LastAdmin)
    admins, total = services.members.list(acme.id, role=m.Role.ADMIN, status=m.MemberStatus.ACTIVE)
    assert total == 1 and admins[0].id == other.id


def test_two_accepts_of_one_link_make_one_member(
    services: Services,
    db: Database,
    switchable: tuple[Org, str, m.Invitation],
    second_process: tuple[Services, GateClock, Services],
) -> None:
    org, token, invitation = switchable
    gated, gate, plain = second_process
    first = Run(lambda: gated.invitations.accept(token, "ada@acme.test", CLI))
    second = Run(lambda: plain.invitations.accept(token, "ada@acme.test", CLI))

    race(first, gate, second, db)

    assert first.error is None
    assert isinstance(second.error, InvitationUsed)
    assert services.members.list(org.id, query="ada@")[1] == 1
    assert services.invitations.get(org.id, invitation.id).accepted_member_id == first.result.id


def test_a_revoke_racing_an_accept_wins_or_loses_whole(
    services: Services,
    db: Database,
    switchable: tuple[Org, str, m.Invitation],
    second_process: tuple[Services, GateClock, Services],
) -> None:
    org, token, invitation = switchable
    gated, gate, plain = second_process
    revoke = Run(lambda: gated.invitations.revoke(org.id, invitation.id, org.by_admin))
    accept = Run(lambda: plain.invitations.accept(token, "ada@acme.test", CLI))

    race(revoke, gate, accept, db)

    assert revoke.error is None
    assert isinstance(accept.error, InvitationRevoked)
    assert services.members.list(org.id, query="ada@")[1] == 0
    assert services.invitations.get(org.id, invitation.id).status is m.InvitationStatus.REVOKED


@pytest.fixture
def builder(services: Services, acme: Org) -> m.Member:
    return invite_and_accept(services, acme, "ada@acme.test")


def test_a_resource_started_before_a_removal_lands_before_it(
    services: Services,
    db: Database,
    acme: Org,
    builder: m.Member,
    second_process: tuple[Services, GateClock, Services],
) -> None:
    gated, gate, plain = second_process
    create = Run(
        lambda: gated.projects.create_resource(
            acme.id, acme.project.id, m.ResourceKind.MODEL, "m1", builder.id, acme.by_admin
        )
    )
    remove = Run(lambda: plain.members.remove(acme.id, builder.id, acme.by_admin))

    race(create, gate, remove, db)

    assert create.error is None and remove.error is None
    assert remove.result.resources_kept == 1
    assert services.members.get(acme.id, builder.id).member.status is m.MemberStatus.REMOVED


def test_a_removal_started_before_a_resource_refuses_it(
    services: Services,
    db: Database,
    acme: Org,
    builder: m.Member,
    second_process: tuple[Services, GateClock, Services],
) -> None:
    gated, gate, plain = second_process
    remove = Run(lambda: gated.members.remove(acme.id, builder.id, acme.by_admin))
    create = Run(
        lambda: plain.projects.create_resource(
            acme.id, acme.project.id, m.ResourceKind.MODEL, "m1", builder.id, acme.by_admin
        )
    )

    race(remove, gate, create, db)

    assert remove.error is None
    assert isinstance(create.error, Forbidden)
    assert services.projects.resources(acme.id, acme.project.id)[1] == 0


def test_a_scim_push_and_a_first_sso_sign_in_make_one_member(
    services: Services, db: Database, second_process: tuple[Services, GateClock, Services]
) -> None:
    globex = make_org(services, "Globex", m.MembershipMode.SSO, domain="globex.test", connection=True)
    gated, gate, plain = second_process
    push = Run(lambda: gated.members.provision(globex.id, "ada@globex.test", m.Role.MEMBER, IDP, Profile()))
    sign_in = Run(lambda: plain.members.sso_sign_in(globex.id, "ada@globex.test", IDP))

    race(push, gate, sign_in, db)

    assert push.error is None and sign_in.error is None
    assert sign_in.result.outcome.value == "sign_in"
    assert sign_in.result.member.id == push.result.id
    assert services.members.list(globex.id, query="ada@")[1] == 1


@pytest.mark.parametrize("stop_at", [1, 3], ids=["before-insert", "after-insert"])
def test_one_email_joining_two_organizations_at_once_gets_one_account(
    services: Services,
    db: Database,
    acme: Org,
    second_process: tuple[Services, GateClock, Services],
    stop_at: int,
) -> None:
    """Different organizations take different locks; the live-email index decides. Stopping the first join
    after its (uncommitted) insert makes PostgreSQL's second insert wait on that index entry."""
    globex = make_org(services, "Globex", m.MembershipMode.SSO, domain="acme.io", connection=True)
    # ada.test is nobody's proven domain (else only its owner could hold the address, rule 11): Acme invites,
    # Globex's identity provider provisions the same address over SCIM.
    invitation = services.invitations.create(acme.id, "ada@ada.test", m.Role.MEMBER, acme.by_admin)
    gated, gate, plain = second_process
    gate.stop_at = (
        stop_at  # accept reads the clock to check, to join, then to audit the join (after the insert)
    )
    accept = Run(lambda: gated.invitations.accept(invitation.token, "ada@ada.test", CLI))
    sign_in = Run(lambda: plain.members.provision(globex.id, "ada@ada.test", m.Role.MEMBER, IDP, Profile()))

    race(accept, gate, sign_in, db, must_wait=stop_at == 3 or db.engine.dialect.name == "sqlite")

    outcomes = [run.error for run in (accept, sign_in)]
    assert sum(error is None for error in outcomes) == 1, outcomes
    loser = next(error for error in outcomes if error is not None)
    assert isinstance(loser, AccountInOtherOrganization), repr(loser)
    assert "must be migrated" in loser.message
    live = [
        member for org in (acme, globex) for member in services.members.list(org.id, query="ada@ada.test")[0]
    ]
    assert len(live) == 1
