"""Rule 11 over the admin API: an Admin claims a domain (pending), publishes the TXT record the answer shows,
checks it against a real resolver (a dnslib server on loopback), and removes it; the API never records a
domain as verified without DNS. Invitations refuse an address in another organization's verified domain."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import API, CLI, Tenant, problem
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.domains import DnsTxtLookup
from tests.conftest import TxtRecords


@pytest.fixture(autouse=True)
def resolver(app_services: Services, dns_address: str) -> None:
    app_services.domains.txt_lookup = DnsTxtLookup(dns_address, timeout=3)


def _claim(client: FlaskClient, tenant: Tenant, domain: str) -> dict:
    response = client.post(f"{API}/domains", json={"domain": domain}, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_claim_check_and_remove_a_domain(
    client: FlaskClient, tenant: Tenant, dns: TxtRecords, app_services: Services
) -> None:
    claim = _claim(client, tenant, "acme.com")
    assert claim["status"] == "pending" and claim["verified"] is False
    assert claim["dns"]["name"] == "_gateway-challenge.acme.com"
    assert claim["dns"]["value"].startswith("gateway-domain-verification=")
    assert app_services.orgs.org_for_email_domain("acme.com") is None

    not_yet = client.post(f"{API}/domains/{claim['id']}/check", headers=tenant.auth)
    problem(not_yet, 409, "domain-not-proven")
    assert client.get(f"{API}/domains/{claim['id']}", headers=tenant.auth).get_json()["last_check"]["error"]

    dns.set(claim["dns"]["name"], claim["dns"]["value"])
    checked = client.post(f"{API}/domains/{claim['id']}/check", headers=tenant.auth)
    assert checked.status_code == 200 and checked.get_json()["status"] == "verified"
    assert checked.get_json()["verified_via"] == "dns"
    assert app_services.orgs.org_for_email_domain("acme.com").id == tenant.org_id
    listed = client.get(f"{API}/domains", headers=tenant.auth).get_json()["items"]
    assert [d["domain"] for d in listed] == ["acme.com"]

    assert client.delete(f"{API}/domains/{claim['id']}", headers=tenant.auth).status_code == 204
    assert app_services.orgs.org_for_email_domain("acme.com") is None
    problem(client.get(f"{API}/domains/{claim['id']}", headers=tenant.auth), 404, "not-found")


def test_the_api_cannot_record_a_domain_as_verified(client: FlaskClient, tenant: Tenant) -> None:
    response = client.post(
        f"{API}/domains", json={"domain": "acme.com", "verified": True}, headers=tenant.auth
    )
    assert response.status_code == 422 or response.get_json()["status"] == "pending"
    claim = _claim(client, tenant, "acme.com")
    assert claim["status"] == "pending"
    assert client.post(f"{API}/domains/{claim['id']}/verify", headers=tenant.auth).status_code in (404, 405)


@pytest.mark.parametrize("domain", ["gmail.com", "outlook.com", "yahoo.com"])
def test_public_mail_domains_are_refused(client: FlaskClient, tenant: Tenant, domain: str) -> None:
    response = client.post(f"{API}/domains", json={"domain": domain}, headers=tenant.auth)
    problem(response, 422, "public-mail-domain")


def test_a_connection_created_through_the_api_only_claims_its_domains(
    client: FlaskClient,
    tenant: Tenant,
    app_services: Services,
    peer,  # type: ignore[no-untyped-def]
) -> None:
    """The squatting reproduction: an Admin's connection with ``domains=[another company's]`` used to store the
    domain verified and route its people's sign-ins to the squatter's IdP."""
    issuer = peer.openid_provider("squat")
    body = {"issuer": issuer, "client_id": "c", "client_secret": "s", "domains": ["victim.test"]}
    created = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert [(d.domain, d.verified) for d in app_services.orgs.get(tenant.org_id).domains] == [
        ("victim.test", False)
    ]
    assert app_services.orgs.org_for_email_domain("victim.test") is None
    login = client.post("/login", data={"email": "ceo@victim.test"})
    assert login.status_code != 302 or "/oidc/" not in login.headers.get("Location", "")


def test_invitations_refuse_an_address_in_another_orgs_verified_domain_without_revealing_accounts(
    client: FlaskClient, make_tenant: Callable[..., Tenant], app_services: Services
) -> None:
    squatter = make_tenant("Squatter")
    owner = make_tenant("Owner", m.MembershipMode.INVITATION, domain="owner.test")
    app_services.members.add_admin(owner.org_id, "exists@owner.test", CLI)

    existing = client.post(f"{API}/invitations", json={"email": "exists@owner.test"}, headers=squatter.auth)
    missing = client.post(f"{API}/invitations", json={"email": "nobody@owner.test"}, headers=squatter.auth)

    first = problem(existing, 409, "address-domain-owned")
    second = problem(missing, 409, "address-domain-owned")
    assert first["detail"] == second["detail"]
    assert app_services.invitations.list(squatter.org_id)[1] == 0
    assert (
        client.post(
            f"{API}/invitations", json={"email": "x@elsewhere.test"}, headers=squatter.auth
        ).status_code
        == 201
    )


def test_an_invitation_sent_before_the_domain_was_proven_cannot_be_accepted_after(
    client: FlaskClient, make_tenant: Callable[..., Tenant], app_services: Services
) -> None:
    squatter = make_tenant("Squatter")
    issued = app_services.invitations.create(
        squatter.org_id, "ada@late.test", m.Role.MEMBER, m.Actor(m.ActorType.ADMIN, label="admin")
    )
    owner = make_tenant("Late", domain="late.test")
    assert owner
    _, token = app_services.sessions.start_identity("ada@late.test", True, "google", "sub-ada")
    from gateway.web.session_cookie import COOKIE_NAME

    client.set_cookie(COOKIE_NAME, token)
    accepted = client.post(f"{API}/invitations/accept", json={"token": issued.token})
    problem(accepted, 409, "address-domain-owned")
    assert app_services.members.list(squatter.org_id, query="ada@late.test")[1] == 0


def test_accounts_elsewhere_are_listed_to_the_new_owner(
    client: FlaskClient, make_tenant: Callable[..., Tenant], app_services: Services, dns: TxtRecords
) -> None:
    holder = make_tenant("Holder")
    app_services.members.add_admin(holder.org_id, "ada@proven.test", CLI)
    owner = make_tenant("Proven")
    claim = _claim(client, owner, "proven.test")
    dns.set(claim["dns"]["name"], claim["dns"]["value"])
    assert client.post(f"{API}/domains/{claim['id']}/check", headers=owner.auth).status_code == 200

    listed = client.get(f"{API}/domains/{claim['id']}/accounts-elsewhere", headers=owner.auth).get_json()
    assert [a["email"] for a in listed["items"]] == ["ada@proven.test"] and listed["total"] == 1
    assert set(listed["items"][0]) == {"email", "status", "since"}
    told = app_services.audit.list(holder.org_id, action="domain.verified_elsewhere")[0]
    assert told and told[0].details["accounts"] == ["ada@proven.test"]


def test_the_rightful_owner_claims_and_proves_a_domain_a_squatter_claimed_first(
    client: FlaskClient, make_tenant: Callable[..., Tenant], app_services: Services, dns: TxtRecords
) -> None:
    """Reproduction: a squatter's earlier claim used to be stored verified, and the real owner could never
    claim the domain. Now the squatter's claim is pending, the owner claims too, proves it, and the
    squatter's claim is released."""
    squatter = make_tenant("Squatter")
    squat = _claim(client, squatter, "rightful.test")
    owner = make_tenant("Rightful")
    claim = _claim(client, owner, "rightful.test")
    assert claim["dns"]["value"] != squat["dns"]["value"]
    dns.set(squat["dns"]["name"], squat["dns"]["value"])  # the squatter's token proves nothing for the owner
    problem(client.post(f"{API}/domains/{claim['id']}/check", headers=owner.auth), 409, "domain-not-proven")

    dns.set(claim["dns"]["name"], claim["dns"]["value"])
    assert client.post(f"{API}/domains/{claim['id']}/check", headers=owner.auth).status_code == 200

    assert client.get(f"{API}/domains", headers=squatter.auth).get_json()["items"] == []
    problem(
        client.post(f"{API}/domains", json={"domain": "rightful.test"}, headers=squatter.auth),
        409,
        "conflict",
    )
    events = client.get(f"{API}/events?type=domain.claim_released", headers=squatter.auth).get_json()[
        "events"
    ]
    assert [e["data"]["details"]["domain"] for e in events] == ["rightful.test"]


def test_the_holding_organization_hears_of_it_in_its_event_feed(
    client: FlaskClient, make_tenant: Callable[..., Tenant], app_services: Services
) -> None:
    holder = make_tenant("Holder")
    app_services.members.add_admin(holder.org_id, "bo@feed.test", CLI)
    owner = make_tenant("Feed")
    app_services.domains.claim(owner.org_id, "feed.test", m.Actor(m.ActorType.ADMIN, label="admin"))
    app_services.domains.verify_by_operator(owner.org_id, "feed.test", CLI)
    feed = client.get(f"{API}/events?type=domain.verified_elsewhere", headers=holder.auth).get_json()[
        "events"
    ]
    assert len(feed) == 1 and feed[0]["data"]["details"]["accounts"] == ["bo@feed.test"]
    assert "Feed" not in str(feed[0]["data"])
