"""Rule 11 at SAML sign-in: only the organization's verified domains allow just-in-time creation, and an address
in a domain another organization verified is refused with a page that says so (never revealing accounts)."""

from __future__ import annotations

from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup

from gateway.domain import model as m
from gateway.services import Services

ADMIN = m.Actor(m.ActorType.ADMIN, id="admin-1", label="admin@acme.test")


def test_a_claimed_but_unproven_domain_allows_no_jit(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    """The squatting reproduction: an Admin adds another company's domain and its people's assertions would
    create accounts just in time. Now the domain is only claimed, so nothing is created."""
    app_services.domains.claim(okta.org.id, "victim.test", ADMIN)
    answer = okta.sign_in(client, "ceo@victim.test")
    assert answer.status_code == 403
    assert "not verified" in answer.get_data(as_text=True)
    assert app_services.members.list(okta.org.id, query="victim.test")[1] == 0


def test_an_address_in_another_orgs_verified_domain_gets_a_clear_page(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    owner = app_services.orgs.create("Initech", m.MembershipMode.SSO, CLI, domains=["initech.test"]).org
    app_services.members.add_admin(owner.id, "exists@initech.test", CLI)

    existing = okta.sign_in(client, "exists@initech.test")
    missing = okta.sign_in(client, "nobody@initech.test")

    for answer in (existing, missing):
        assert answer.status_code == 403
        html = answer.get_data(as_text=True)
        assert "This email address belongs to another organization" in html
        assert "another organization has verified" in html
    assert app_services.members.list(okta.org.id, query="initech.test")[1] == 0
    refused = app_services.audit.list(okta.org.id, action="sign_in.refused")[0]
    assert {e.details["reason"] for e in refused} == {"address_domain_owned"}


def test_the_organizations_own_verified_domain_still_signs_people_in(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert okta.sign_in(client, "ada@acme.test").status_code == 303
    assert app_services.members.list(okta.org.id, query="ada@acme.test")[1] == 1
