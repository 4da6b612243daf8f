"""Organizations ready for the rule tests, on both backends (through the ``services`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pytest

from gateway.domain import model as m
from gateway.services import Services

CLI = m.Actor.cli()
IDP = m.Actor(m.ActorType.SCIM_TOKEN, id="scim-token-1", label="Okta SCIM")


class Clock(Protocol):
    """The ``clock`` fixture of tests/conftest.py: services read it, tests move it."""

    now: datetime

    def __call__(self) -> datetime: ...

    def advance(self, **delta: float) -> datetime: ...


@dataclass
class Org:
    """An organization with its Default Project and one Admin, as a test starts from."""

    org: m.Organization
    project: m.Project
    admin: m.Member

    @property
    def id(self) -> str:
        return self.org.id

    @property
    def by_admin(self) -> m.Actor:
        return m.Actor(
            m.ActorType.ADMIN, id=self.admin.id, label=self.admin.email, ip="203.0.113.7", request_id="req-42"
        )


def make_org(
    services: Services,
    name: str,
    mode: m.MembershipMode,
    *,
    domain: str,
    connection: bool = False,
) -> Org:
    view = services.orgs.create(name, mode, CLI, domains=[domain])
    admin = services.members.add_admin(view.org.id, f"admin@{domain}", CLI)
    if connection:
        services.connections.add(view.org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    return Org(services.orgs.get(view.org.id).org, view.default_project, admin)


@pytest.fixture
def acme(services: Services) -> Org:
    """Invitation mode, no SSO connection yet."""
    return make_org(services, "Acme", m.MembershipMode.INVITATION, domain="acme.test")


@pytest.fixture
def globex(services: Services) -> Org:
    """SSO mode with an enabled SAML connection and the verified domain globex.test."""
    return make_org(services, "Globex", m.MembershipMode.SSO, domain="globex.test", connection=True)


def invite_and_accept(services: Services, org: Org, email: str, role: m.Role = m.Role.MEMBER) -> m.Member:
    issued = services.invitations.create(org.id, email, role, org.by_admin)
    return services.invitations.accept(issued.token, email, m.Actor(m.ActorType.MEMBER, label=email))


def project_ids(services: Services, org: Org, member: m.Member) -> list[str]:
    return [p.id for p in services.members.get(org.id, member.id).projects]


def actions(services: Services, org: Org, **filters: object) -> list[str]:
    events, _ = services.audit.list(org.id, limit=500, **filters)  # type: ignore[arg-type]
    return [e.action for e in reversed(events)]
