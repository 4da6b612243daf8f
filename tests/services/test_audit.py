"""Rule 10: everything that changes membership is audited: who, what, on whom, when and from where."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.domain import model as m
from gateway.domain.errors import LastAdmin
from gateway.services import Services
from gateway.services.members import Profile

from .conftest import CLI, IDP, Clock, Org, make_org


def test_every_membership_change_records_actor_action_target_and_time(
    services: Services, acme: Org, clock: Clock
) -> None:
    admin = acme.by_admin
    ada = m.Actor(m.ActorType.MEMBER, label="ada@acme.test", ip="198.51.100.4")
    state: dict[str, object] = {}

    def step(action: str, actor: m.Actor, run: Callable[[], object], target: Callable[[], str]) -> None:
        clock.advance(minutes=1)
        run()
        events, _ = services.audit.list(acme.id, action=action, limit=1)
        assert events, f"no {action} event"
        event = events[0]
        assert (event.action, event.at, event.target_id) == (action, clock.now, target()), action
        assert (event.actor_type, event.actor_id, event.actor_label, event.ip) == (
            actor.type, actor.id, actor.label, actor.ip,
        ), action  # fmt: skip

    def invite() -> None:
        state["issued"] = services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, admin)

    def resend() -> None:
        state["issued"] = services.invitations.resend(acme.id, invitation_id(), admin)

    def accept() -> None:
        state["ada"] = services.invitations.accept(state["issued"].token, "ada@acme.test", ada)  # type: ignore[attr-defined]

    def invitation_id() -> str:
        return state["issued"].invitation.id  # type: ignore[attr-defined]

    def ada_id() -> str:
        return state["ada"].id  # type: ignore[attr-defined]

    step("invitation.created", admin, invite, invitation_id)
    step("invitation.resent", admin, resend, invitation_id)
    step("invitation.accepted", ada, accept, invitation_id)
    assert (
        services.audit.list(acme.id, action="member.joined", target_id=ada_id())[0][0].actor_label
        == ada.label
    )
    step(
        "member.role_changed",
        admin,
        lambda: services.members.change_role(acme.id, ada_id(), m.Role.ADMIN, admin),
        ada_id,
    )
    step("member.suspended", admin, lambda: services.members.suspend(acme.id, ada_id(), admin), ada_id)
    step("member.restored", admin, lambda: services.members.restore(acme.id, ada_id(), admin), ada_id)
    step(
        "member.removed", admin, lambda: services.members.remove(acme.id, ada_id(), admin, block=True), ada_id
    )
    blocked = services.members.blocked_emails(acme.id)[0]
    assert services.audit.list(acme.id, action="email.blocked")[0][0].target_id == blocked.id
    step(
        "email.unblocked",
        admin,
        lambda: services.members.unblock_email(acme.id, "ada@acme.test", admin),
        lambda: blocked.id,
    )
    other = services.invitations.create(acme.id, "bob@acme.test", m.Role.MEMBER, admin).invitation
    step(
        "invitation.revoked",
        admin,
        lambda: services.invitations.revoke(acme.id, other.id, admin),
        lambda: other.id,
    )
    services.connections.add(acme.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    step(
        "mode.switched",
        admin,
        lambda: services.mode.apply(acme.id, m.MembershipMode.SSO, admin),
        lambda: acme.id,
    )

    def provision() -> None:
        state["cy"] = services.members.provision(acme.id, "cy@acme.test", m.Role.MEMBER, IDP, Profile())

    step("member.joined", IDP, provision, lambda: state["cy"].id)  # type: ignore[attr-defined]
    step(
        "member.linked",
        IDP,
        lambda: services.members.provision(acme.id, "admin@acme.test", m.Role.ADMIN, IDP, Profile()),
        lambda: acme.admin.id,
    )
    step(
        "sign_in.succeeded",
        IDP,
        lambda: services.members.sso_sign_in(acme.id, "cy@acme.test", IDP),
        lambda: state["cy"].id,
    )  # type: ignore[attr-defined]
    step(
        "member.removed",
        IDP,
        lambda: services.members.remove(acme.id, state["cy"].id, IDP, source=m.RemovalSource.SCIM),
        lambda: state["cy"].id,
    )  # type: ignore[attr-defined]


def test_events_carry_the_request_context(services: Services, acme: Org) -> None:
    services.invitations.create(acme.id, "ada@acme.test", m.Role.MEMBER, acme.by_admin)
    event = services.audit.list(acme.id, action="invitation.*")[0][0]
    assert (event.ip, event.request_id, event.target_type) == ("203.0.113.7", "req-42", "invitation")
    assert event.details == {"email": "ada@acme.test", "role": "member"}


def test_the_trail_is_scoped_to_one_organization_and_filterable(services: Services, acme: Org) -> None:
    globex = make_org(services, "Globex", m.MembershipMode.INVITATION, domain="globex.test")
    services.invitations.create(globex.id, "x@globex.test", m.Role.MEMBER, globex.by_admin)
    assert services.audit.list(acme.id, action="invitation.created")[1] == 0
    assert all(e.org_id == acme.id for e in services.audit.list(acme.id, limit=500)[0])
    by_admin, _ = services.audit.list(globex.id, actor_id=globex.admin.id)
    assert [e.action for e in by_admin] == ["invitation.created"]
    assert services.audit.list(globex.id, actor_type=m.ActorType.CLI)[1] >= 2


def test_a_refused_change_writes_nothing_but_the_refusal(services: Services, acme: Org) -> None:
    before = services.audit.list(acme.id)[1]
    with pytest.raises(LastAdmin):
        services.members.remove(acme.id, acme.admin.id, acme.by_admin)
    assert services.audit.list(acme.id)[1] == before


def test_credential_last_use_is_recorded_at_most_once_a_minute(
    services: Services, clock: Clock, globex: Org
) -> None:
    issued = services.credentials.create_scim_token(globex.id, globex.by_admin)
    services.credentials.authenticate_scim_token(issued.token)
    first = services.credentials.scim_tokens(globex.id)[0].last_used_at
    assert first == clock.now
    clock.advance(seconds=30)
    services.credentials.authenticate_scim_token(issued.token)
    assert services.credentials.scim_tokens(globex.id)[0].last_used_at == first
    clock.advance(seconds=31)
    services.credentials.authenticate_scim_token(issued.token)
    assert services.credentials.scim_tokens(globex.id)[0].last_used_at == clock.now


def test_a_scim_write_records_its_token_use_with_its_own_commit(
    services: Services, clock: Clock, globex: Org
) -> None:
    """A SCIM write authenticates in its own transaction (the token read outside the session): the use is
    written just before that transaction commits, and not at all when it rolls back."""
    issued = services.credentials.create_scim_token(globex.id, globex.by_admin)
    with services.credentials.db.scope(write=True):
        services.credentials.authenticate_scim_token(issued.token)
    first = services.credentials.scim_tokens(globex.id)[0].last_used_at
    assert first == clock.now
    clock.advance(seconds=61)
    with pytest.raises(RuntimeError), services.credentials.db.scope(write=True):
        services.credentials.authenticate_scim_token(issued.token)
        raise RuntimeError("the change failed")
    assert services.credentials.scim_tokens(globex.id)[0].last_used_at == first
