"""Rule 11, domain ownership: a claim is pending until a DNS TXT record (looked up through a real resolver,
here a dnslib server on loopback) proves it; public mail domains are never claimable; proving a domain releases
other organizations' pending claims and tells the organizations that hold accounts in it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import Conflict, DomainNotProven, Forbidden, InvalidInput, PublicMailDomain
from gateway.services import Services
from gateway.services.domains import DnsTxtLookup
from gateway.services.members import Profile
from gateway.storage.db import Database
from tests.conftest import FakeClock, TxtRecords

from .conftest import CLI, IDP, Org, make_org


@pytest.fixture
def resolver(services: Services, dns_address: str) -> None:
    services.domains.txt_lookup = DnsTxtLookup(dns_address, timeout=3)


def publish(dns: TxtRecords, services: Services, org_id: str, domain_id: str) -> None:
    view = services.domains.get(org_id, domain_id)
    assert view.record_value is not None
    dns.set(view.record_name, "v=spf1 -all", view.record_value)


@pytest.mark.usefixtures("resolver")
def test_a_claim_is_pending_until_the_txt_record_with_its_token_is_found(
    services: Services, globex: Org, dns: TxtRecords
) -> None:
    view = services.domains.claim(globex.id, "Globex-Labs.test.", globex.by_admin)
    assert view.status is m.DomainStatus.PENDING and view.domain.domain == "globex-labs.test"
    assert view.record_name == "_gateway-challenge.globex-labs.test"
    assert services.orgs.org_for_email_domain("globex-labs.test") is None

    with pytest.raises(DomainNotProven, match="No TXT record"):
        services.domains.check(globex.id, view.domain.id, globex.by_admin)
    dns.set(view.record_name, "gateway-domain-verification=someone-elses-token")
    with pytest.raises(DomainNotProven, match="carries this claim's token"):
        services.domains.check(globex.id, view.domain.id, globex.by_admin)
    assert services.domains.get(globex.id, view.domain.id).domain.check_error

    publish(dns, services, globex.id, view.domain.id)
    proven = services.domains.check(globex.id, view.domain.id, globex.by_admin)
    assert proven.status is m.DomainStatus.VERIFIED and proven.domain.verified_via == "dns"
    assert services.orgs.org_for_email_domain("globex-labs.test").id == globex.id
    actions = [e.action for e in services.audit.list(globex.id)[0]]
    assert "domain.verified" in actions and "domain.check_failed" in actions


@pytest.mark.usefixtures("resolver")
def test_a_pending_claim_expires_and_a_new_claim_gets_a_new_token(
    services: Services, globex: Org, dns: TxtRecords, clock: FakeClock
) -> None:
    view = services.domains.claim(globex.id, "late.test", globex.by_admin)
    publish(dns, services, globex.id, view.domain.id)
    clock.advance(days=7, seconds=1)
    assert services.domains.get(globex.id, view.domain.id).status is m.DomainStatus.EXPIRED
    with pytest.raises(DomainNotProven, match="expired"):
        services.domains.check(globex.id, view.domain.id, globex.by_admin)

    renewed = services.domains.claim(globex.id, "late.test", globex.by_admin)
    assert renewed.domain.id == view.domain.id and renewed.record_value != view.record_value
    with pytest.raises(DomainNotProven):  # the old record does not prove the renewed claim
        services.domains.check(globex.id, view.domain.id, globex.by_admin)
    publish(dns, services, globex.id, view.domain.id)
    assert services.domains.check(globex.id, view.domain.id, globex.by_admin).domain.verified


def test_the_claim_lifetime_is_configurable(services: Services, globex: Org, clock: FakeClock) -> None:
    from datetime import timedelta

    services.domains.claim_lifetime = timedelta(days=2)
    view = services.domains.claim(globex.id, "short.test", globex.by_admin)
    assert view.domain.expires_at == clock() + timedelta(days=2)


@pytest.mark.parametrize("name", ["gmail.com", "outlook.com", "yahoo.com", "mail.gmail.com", "hey.com"])
def test_public_mail_domains_can_never_be_claimed_or_verified(
    services: Services, globex: Org, name: str
) -> None:
    with pytest.raises(PublicMailDomain, match="public mail domain"):
        services.domains.claim(globex.id, name, globex.by_admin)
    with pytest.raises(PublicMailDomain):
        services.orgs.create("Squat", m.MembershipMode.SSO, CLI, domains=[name])


@pytest.mark.parametrize("name", ["nodot", "a..b", "-x.test", "10.0.0.1", "x@y.test", "a b.test", ""])
def test_a_claim_needs_a_domain_name(services: Services, globex: Org, name: str) -> None:
    with pytest.raises(InvalidInput):
        services.domains.claim(globex.id, name, globex.by_admin)


@pytest.mark.usefixtures("resolver")
def test_the_rightful_owner_proving_a_domain_releases_an_older_unverified_claim(
    services: Services, globex: Org, dns: TxtRecords
) -> None:
    squatter = make_org(services, "Squatter", m.MembershipMode.SSO, domain="squatter.test")
    squat = services.domains.claim(squatter.id, "initech.test", squatter.by_admin)
    owner = make_org(services, "Initech", m.MembershipMode.SSO, domain="initech-corp.test")
    claim = services.domains.claim(owner.id, "initech.test", owner.by_admin)
    publish(dns, services, owner.id, claim.domain.id)

    services.domains.check(owner.id, claim.domain.id, owner.by_admin)

    assert [d.domain.domain for d in services.domains.list(squatter.id)] == ["squatter.test"]
    released = services.audit.list(squatter.id, action="domain.claim_released")[0]
    assert len(released) == 1 and released[0].details["domain"] == "initech.test"
    assert released[0].actor_type is m.ActorType.SYSTEM  # the owner's Admin is not named to the squatter
    with pytest.raises(Conflict, match="already verified by another organization"):
        services.domains.claim(squatter.id, "initech.test", squatter.by_admin)
    assert squat.domain.id not in {d.domain.id for d in services.domains.list(squatter.id)}


@pytest.mark.usefixtures("resolver")
def test_two_organizations_never_both_hold_one_verified_domain(
    services: Services, globex: Org, dns: TxtRecords, db: Database
) -> None:
    other = make_org(services, "Other", m.MembershipMode.SSO, domain="other.test")
    with pytest.raises(Conflict):
        services.domains.claim(other.id, "globex.test", other.by_admin)
    with pytest.raises(Conflict):
        services.orgs.create("Copy", m.MembershipMode.SSO, CLI, domains=["globex.test"])
    # The database itself refuses a second verified row, whatever the services do.
    pending = services.domains.claim(other.id, "shared.test", other.by_admin)
    services.domains.claim(globex.id, "shared.test", globex.by_admin)
    publish(dns, services, globex.id, services.domains.find(globex.id, "shared.test").domain.id)
    services.domains.check(
        globex.id, services.domains.find(globex.id, "shared.test").domain.id, globex.by_admin
    )
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO domains (id, org_id, domain, verified, created_at) "
                "VALUES ('x', :org, 'shared.test', :yes, :at)"
            ),
            {"org": other.id, "yes": True, "at": pending.domain.created_at},
        )


def test_only_the_operator_verifies_a_pending_claim_by_hand(services: Services, globex: Org) -> None:
    view = services.domains.claim(globex.id, "byhand.test", globex.by_admin)
    with pytest.raises(Forbidden):
        services.domains.verify_by_operator(globex.id, "byhand.test", globex.by_admin)
    with pytest.raises(Forbidden):
        services.orgs.add_domain(globex.id, "other.test", globex.by_admin, verified=True)

    verified = services.domains.verify_by_operator(globex.id, "byhand.test", CLI)

    assert verified.domain.id == view.domain.id and verified.domain.verified_via == "operator"
    event = services.audit.list(globex.id, action="domain.verified")[0][0]
    assert event.actor_type is m.ActorType.CLI and event.details["operator"] is True


def test_a_domain_can_be_removed_and_stops_counting(services: Services, globex: Org) -> None:
    claim = services.domains.find(globex.id, "globex.test")
    services.domains.remove(globex.id, claim.domain.id, globex.by_admin)
    assert services.orgs.org_for_email_domain("globex.test") is None
    assert services.audit.list(globex.id, action="domain.removed")[1] == 1
    other = make_org(services, "Other", m.MembershipMode.SSO, domain="other.test")
    services.domains.claim(other.id, "globex.test", other.by_admin)  # free to claim again


def test_proving_a_domain_lists_accounts_elsewhere_and_tells_their_organization(
    services: Services, globex: Org
) -> None:
    holder = make_org(services, "Holder", m.MembershipMode.SSO, domain="holder.test")
    services.members.provision(holder.id, "ada@owner.test", m.Role.MEMBER, IDP, Profile())
    owner = make_org(services, "Owner", m.MembershipMode.SSO, domain="owner-corp.test")
    claim = services.domains.claim(owner.id, "owner.test", owner.by_admin)
    assert services.domains.accounts_elsewhere(owner.id, claim.domain.id) == []

    services.domains.verify_by_operator(owner.id, "owner.test", CLI)

    assert [a.email for a in services.domains.accounts_elsewhere(owner.id, claim.domain.id)] == [
        "ada@owner.test"
    ]
    told = services.audit.list(holder.id, action="domain.verified_elsewhere")[0]
    assert len(told) == 1 and told[0].details["accounts"] == ["ada@owner.test"]
    assert told[0].actor_type is m.ActorType.SYSTEM
