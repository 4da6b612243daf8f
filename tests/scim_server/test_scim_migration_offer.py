"""A SCIM push refused because the address's account belongs to another organization (issue 14, rules 3 and
12): the SCIM error says the account must be migrated and how this organization's Admin requests it, without a
word about the other organization; the SCIM request log keeps the address and offers the request; once the
migration is applied, the identity provider's next push links the migrated member instead of a duplicate."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from scimkit import USER_URN, ScimOrg, assert_scim_error, new_user
from werkzeug.test import TestResponse

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME
from tests.conftest import FakeClock

CLI = m.Actor.cli()
API = "/api/v1"
EMAIL = "ada@mail.test"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
REQUEST_MIGRATION = f"POST {API}/account-migrations"


def _admin_key(services: Services, org_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.credentials.create_admin_key(org_id, CLI, 'admin').token}"}


def _log(client: FlaskClient, auth: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{API}/scim/requests{query}", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def _team(services: Services) -> tuple[m.Organization, m.Member]:
    """Initech, where Ada's account is, with an Admin besides her (so its Admin must approve)."""
    org = services.orgs.create("Initech", m.MembershipMode.INVITATION, CLI).org
    services.members.add_admin(org.id, "boss@initech.test", CLI)
    ada = services.members.add_admin(org.id, EMAIL, CLI)
    return org, services.members.change_role(org.id, ada.id, m.Role.MEMBER, CLI)


def _signed_in(client: FlaskClient, services: Services, member: m.Member) -> FlaskClient:
    person = FlaskClient(client.application)
    _, token = services.sessions.start(member.org_id, member.id, CLI)
    person.set_cookie(COOKIE_NAME, token)
    return person


def _assert_migration_refusal(response: TestResponse, *secrets: str) -> dict[str, Any]:
    error = assert_scim_error(response, 409, "uniqueness")
    assert set(error) == {"schemas", "status", "scimType", "detail"}
    detail = error["detail"]
    assert "another organization" in detail and "must be migrated" in detail
    assert "Request migration" in detail and "SCIM request log" in detail
    assert (
        "/admin/migrations" in detail and "POST http://" in detail and "/api/v1/account-migrations" in detail
    )
    assert "Send the user again once the migration is applied" in detail
    assert len(detail) <= 500  # the request log keeps the whole of it
    for secret in secrets:
        assert secret not in str(error)
    return error


def test_a_refused_push_says_how_to_request_the_migration_and_nothing_about_the_other_org(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    initech, ada = _team(app_services)
    refused = acme.scim.post("/Users", new_user(EMAIL, name={"givenName": "Ada"}))
    _assert_migration_refusal(refused, "Initech", initech.id, ada.id, "boss@initech.test")

    auth = _admin_key(app_services, acme.org.id)
    entry = _log(client, auth)[0]
    assert (entry["method"], entry["path"], entry["status"], entry["scim_type"]) == (
        "POST",
        "/scim/v2/Users",
        409,
        "uniqueness",
    )
    assert entry["request_id"] == refused.headers["X-Request-Id"]
    assert (entry["email"], entry["request_migration"]) == (EMAIL, REQUEST_MIGRATION)
    assert entry["detail"] == refused.get_json()["detail"]
    assert "Initech" not in str(entry) and initech.id not in str(entry)


def test_only_a_push_refused_for_an_account_elsewhere_offers_a_migration(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    _team(app_services)
    assert acme.scim.post("/Users", new_user("grace@acme.test")).status_code == 201
    assert_scim_error(acme.scim.post("/Users", new_user("grace@acme.test")), 409, "uniqueness")
    assert_scim_error(acme.scim.post("/Users", new_user(EMAIL)), 409, "uniqueness")

    auth = _admin_key(app_services, acme.org.id)
    elsewhere, duplicate, created = _log(client, auth)
    assert elsewhere["email"] == EMAIL and elsewhere["request_migration"] == REQUEST_MIGRATION
    assert duplicate["status"] == 409 and duplicate["scim_type"] == "uniqueness"
    assert duplicate["email"] is None and duplicate["request_migration"] is None
    assert "must be migrated" not in duplicate["detail"]
    assert created["email"] is None
    offered = _log(client, auth, "?offers_migration=true")
    assert [e["id"] for e in offered] == [elsewhere["id"]]
    assert len(_log(client, auth, "?offers_migration=false")) == 3
    other = app_services.orgs.create("Globex", m.MembershipMode.SSO, CLI).org
    assert _log(client, _admin_key(app_services, other.id), "?offers_migration=true") == []


def test_an_email_change_refused_by_put_patch_or_bulk_offers_the_migration(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    _team(app_services)
    grace = acme.scim.post("/Users", new_user("grace@acme.test")).get_json()
    patched = acme.scim.patch(
        f"/Users/{grace['id']}",
        [{"op": "replace", "path": "emails", "value": [{"value": EMAIL, "primary": True}]}],
    )
    _assert_migration_refusal(patched)
    replaced = acme.scim.put(f"/Users/{grace['id']}", new_user(EMAIL))
    _assert_migration_refusal(replaced)
    bulk = acme.scim.post(
        "/Bulk",
        {
            "schemas": [BULK_URN],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": new_user(EMAIL.upper())},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": new_user("linus@acme.test")},
            ],
        },
    )
    assert bulk.status_code == 200
    first, second = bulk.get_json()["Operations"]
    assert (first["status"], second["status"]) == ("409", "201")
    assert first["response"]["scimType"] == "uniqueness"
    assert (
        "must be migrated" in first["response"]["detail"]
        and "Request migration" in first["response"]["detail"]
    )
    kept = acme.scim.get(f"/Users/{grace['id']}").get_json()
    assert kept["userName"] == "grace@acme.test" and "emails" not in kept  # nothing of the refused changes

    entries = _log(client, _admin_key(app_services, acme.org.id), "?outcome=refused")
    assert [(e["method"], e["path"], e["email"]) for e in entries] == [
        ("POST", "/scim/v2/Users", EMAIL),
        ("PUT", f"/scim/v2/Users/{grace['id']}", EMAIL),
        ("PATCH", f"/scim/v2/Users/{grace['id']}", EMAIL),
    ]
    assert entries[0]["request_id"] == bulk.headers["X-Request-Id"]
    assert all(e["request_migration"] == REQUEST_MIGRATION for e in entries)
    bulk_entry = _log(client, _admin_key(app_services, acme.org.id), "?path=/scim/v2/Bulk")
    assert [(e["status"], e["email"]) for e in bulk_entry] == [(200, None)]


def test_every_refused_bulk_operation_is_logged_with_why(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    bulk = acme.scim.post(
        "/Bulk",
        {
            "schemas": [BULK_URN],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER_URN]}},
                {"method": "DELETE", "path": "/Users/nope"},
            ],
        },
    )
    assert [op["status"] for op in bulk.get_json()["Operations"]] == ["400", "404"]
    entries = _log(client, _admin_key(app_services, acme.org.id))
    assert [(e["method"], e["path"], e["status"], e["email"]) for e in entries] == [
        ("DELETE", "/scim/v2/Users/nope", 404, None),
        ("POST", "/scim/v2/Users", 400, None),
        ("POST", "/scim/v2/Bulk", 200, None),
    ]
    assert entries[1]["scim_type"] == "invalidValue" and "userName" in entries[1]["detail"]


@pytest.mark.parametrize("alone", [False, True], ids=["source-admin-approves", "automatic"])
def test_after_the_migration_the_next_push_links_the_migrated_member(
    alone: bool, acme: ScimOrg, client: FlaskClient, app_services: Services, clock: FakeClock
) -> None:
    if alone:
        source = app_services.orgs.create("Ada Lovelace", m.MembershipMode.INVITATION, CLI).org
        ada = app_services.members.add_admin(source.id, EMAIL, CLI)
    else:
        source, ada = _team(app_services)
    app_services.connections.add(acme.org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    user = new_user(EMAIL, externalId="00u1", name={"givenName": "Ada", "familyName": "Lovelace"})
    _assert_migration_refusal(acme.scim.post("/Users", user))

    # The Admin finds the refused push in the SCIM request log and requests what it offers, dry run first.
    auth = _admin_key(app_services, acme.org.id)
    offer = _log(client, auth, "?offers_migration=true")[0]
    method, path = offer["request_migration"].split(" ")
    dry = client.open(path, method=method, json={"email": offer["email"], "dry_run": True}, headers=auth)
    assert dry.status_code == 200 and dry.get_json()["allowed"] is True
    assert dry.get_json()["needs_approval"] is not alone and dry.get_json()["source"] is None
    requested = client.open(path, method=method, json={"email": offer["email"]}, headers=auth)
    assert requested.status_code == 201, requested.get_data(as_text=True)
    migration = requested.get_json()

    clock.advance(minutes=5)
    person = _signed_in(client, app_services, ada)
    confirmed = person.post(f"{API}/account-migrations/{migration['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    if alone:
        applied = confirmed.get_json()
    else:
        assert confirmed.get_json()["status"] == "requested"
        assert acme.scim.post("/Users", user).status_code == 409  # not applied yet: still refused
        approved = client.post(
            f"{API}/account-migrations/{migration['id']}/approve", headers=_admin_key(app_services, source.id)
        )
        assert approved.status_code == 200, approved.get_data(as_text=True)
        applied = approved.get_json()
    assert applied["status"] == "applied" and applied["approval"] == ("automatic" if alone else "admin")

    again = acme.scim.post("/Users", user)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.get_json()["id"] == applied["target_member_id"]
    assert again.get_json()["externalId"] == "00u1" and again.get_json()["name"]["givenName"] == "Ada"
    found = acme.scim.get(f'/Users?filter=userName eq "{EMAIL}"').get_json()
    assert found["totalResults"] == 1
    members = client.get(f"{API}/members?limit=100", headers=auth).get_json()["items"]
    assert [x["id"] for x in members if x["email"] == EMAIL] == [applied["target_member_id"]]
    assert app_services.members.get(source.id, ada.id).member.status is m.MemberStatus.REMOVED
    pushes = _log(client, auth, "?method=POST&path=/scim/v2/Users")
    assert [(e["status"], e["email"]) for e in pushes] == [(201, None)] + [(409, EMAIL)] * (1 if alone else 2)
