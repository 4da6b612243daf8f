"""Rule 11 over SCIM: an address in a domain another organization verified is refused on create, replace and
patch (``userName`` and ``emails``) with 409 ``uniqueness`` (RFC 7644 3.12: "already in use or reserved"), and
the refusal is the same whether or not an account with that address exists anywhere."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from scimkit import Scim, ScimOrg, assert_scim_error, make_scim_org, new_user

from gateway.domain import model as m
from gateway.services import Services

CLI = m.Actor.cli()


@pytest.fixture
def owner(app_services: Services, client: FlaskClient) -> ScimOrg:
    """Initech, which verified initech.test (recorded by the operator)."""
    found = make_scim_org(app_services, client, "Initech")
    app_services.orgs.add_domain(found.org.id, "initech.test", CLI)
    return found


def _refused(response) -> dict:  # type: ignore[no-untyped-def]
    body = assert_scim_error(response, 409, "uniqueness")
    assert "another organization has verified" in body["detail"]
    return body


def test_another_orgs_scim_token_cannot_create_an_address_in_a_verified_domain(
    scim: Scim, owner: ScimOrg, app_services: Services, acme: ScimOrg
) -> None:
    _refused(scim.post("/Users", new_user("ada@initech.test")))
    _refused(scim.post("/Users", new_user("ada", emails=[{"value": "ada@initech.test", "primary": True}])))
    _refused(scim.post("/Users", new_user("ada@initech.test", emails=[{"value": "ada@acme.example"}])))
    assert app_services.members.list(acme.org.id)[1] == 0
    # The owner provisions its own person without trouble.
    assert owner.scim.post("/Users", new_user("ada@initech.test")).status_code == 201


def test_the_refusal_does_not_reveal_whether_an_account_exists(scim: Scim, owner: ScimOrg) -> None:
    assert owner.scim.post("/Users", new_user("exists@initech.test")).status_code == 201
    existing = _refused(scim.post("/Users", new_user("exists@initech.test")))
    missing = _refused(scim.post("/Users", new_user("nobody@initech.test")))
    assert existing["detail"] == missing["detail"]
    assert "account" not in existing["detail"].split(".")[0]


def test_replace_and_patch_cannot_move_a_user_into_a_verified_domain(scim: Scim, owner: ScimOrg) -> None:
    created = scim.post("/Users", new_user("bob@acme.example")).get_json()
    path = f"/Users/{created['id']}"
    _refused(scim.put(path, new_user("bob@initech.test")))
    _refused(scim.put(path, new_user("bob@acme.example", emails=[{"value": "bob@initech.test"}])))
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "bob@initech.test"}],
    }
    _refused(scim.request("PATCH", path, patch))
    emails = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": "emails", "value": [{"value": "b@initech.test", "primary": True}]}
        ],
    }
    _refused(scim.request("PATCH", path, emails))
    assert scim.get(path).get_json()["userName"] == "bob@acme.example"


def test_addresses_in_unproven_domains_stay_allowed(
    scim: Scim, app_services: Services, acme: ScimOrg
) -> None:
    other = app_services.orgs.create("Claimer", m.MembershipMode.SSO, CLI).org
    admin = m.Actor(m.ActorType.ADMIN, id="a", label="admin@claimer.test")
    app_services.domains.claim(other.id, "contractor.test", admin)  # claimed, never proven
    assert scim.post("/Users", new_user("c@contractor.test")).status_code == 201
    assert scim.post("/Users", new_user("test-user@made-up-domain.example")).status_code == 201


def test_an_account_held_before_the_domain_was_proven_can_still_be_updated_by_its_holder(
    scim: Scim, app_services: Services, client: FlaskClient
) -> None:
    created = scim.post("/Users", new_user("eve@later.test", displayName="Eve")).get_json()
    late = make_scim_org(app_services, client, "Later")
    app_services.orgs.add_domain(late.org.id, "later.test", CLI)
    path = f"/Users/{created['id']}"
    updated = scim.put(path, new_user("eve@later.test", displayName="Eve Renamed", active=False))
    assert updated.status_code == 200, updated.get_data(as_text=True)
    assert updated.get_json()["active"] is False
