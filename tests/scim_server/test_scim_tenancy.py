"""The token decides the organization: org A's token cannot read, change or even detect org B's users or
groups, and an organization in invitation mode refuses every SCIM call with an error that says why."""

from __future__ import annotations

from flask.testing import FlaskClient
from scimkit import CLI, GROUP_URN, ScimOrg, assert_scim_error, make_scim_org, new_user

from gateway.domain import model as m
from gateway.services import Services


def test_a_token_cannot_read_change_or_detect_another_organizations_resources(
    acme: ScimOrg, app_services: Services, client: FlaskClient
) -> None:
    globex = make_scim_org(app_services, client, "Globex")
    theirs = globex.scim.post(
        "/Users",
        new_user(
            "hank@globex.example", externalId="g-1", emails=[{"value": "hank@globex.example", "type": "work"}]
        ),
    ).get_json()
    their_group = globex.scim.post(
        "/Groups",
        {"schemas": [GROUP_URN], "displayName": "Globex Admins", "members": [{"value": theirs["id"]}]},
    ).get_json()
    mine = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    scim = acme.scim

    # Reading: by id, by filter, in lists, at the root search: nothing, and "not found" looks the same as
    # for an id that never existed.
    never = assert_scim_error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
    assert assert_scim_error(scim.get(f"/Users/{theirs['id']}"), 404)["detail"] == never["detail"]
    assert_scim_error(scim.get(f"/Groups/{their_group['id']}"), 404)
    for query in (
        'userName eq "hank@globex.example"',
        'externalId eq "g-1"',
        f'id eq "{theirs["id"]}"',
        'emails[type eq "work"].value eq "hank@globex.example"',
        f'groups[value eq "{their_group["id"]}"]',
    ):
        assert scim.get("/Users", query_string={"filter": query}).get_json()["totalResults"] == 0
    assert (
        scim.get("/Groups", query_string={"filter": 'displayName eq "Globex Admins"'}).get_json()[
            "totalResults"
        ]
        == 0
    )
    listed = scim.get("/Users").get_json()
    assert [r["id"] for r in listed["Resources"]] == [mine["id"]]
    assert listed["totalResults"] == 1
    root = scim.post(
        "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    ).get_json()
    assert {r["id"] for r in root["Resources"]} == {mine["id"]}

    # Changing: PUT, PATCH, DELETE on their ids answer 404 and change nothing.
    assert_scim_error(scim.put(f"/Users/{theirs['id']}", new_user("stolen@acme.example")), 404)
    assert_scim_error(
        scim.patch(f"/Users/{theirs['id']}", [{"op": "replace", "path": "active", "value": False}]), 404
    )
    assert_scim_error(scim.delete(f"/Users/{theirs['id']}"), 404)
    assert_scim_error(scim.delete(f"/Groups/{their_group['id']}"), 404)
    assert_scim_error(scim.patch(f"/Groups/{their_group['id']}", [{"op": "remove", "path": "members"}]), 404)
    # Their user cannot be put into one of our groups either (it is not a user of this organization).
    assert_scim_error(
        scim.post(
            "/Groups", {"schemas": [GROUP_URN], "displayName": "Sneaky", "members": [{"value": theirs["id"]}]}
        ),
        400,
        "invalidValue",
    )
    # Uniqueness is per organization too: the same userName and group name are free here.
    assert (
        scim.post(
            "/Users",
            new_user("hank@globex.example", emails=[{"value": "hank@acme.example", "primary": True}]),
        ).status_code
        == 201
    )
    assert scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Globex Admins"}).status_code == 201

    still = globex.scim.get(f"/Users/{theirs['id']}").get_json()
    assert "active" not in still and still["userName"] == "hank@globex.example"
    group = globex.scim.get(f"/Groups/{their_group['id']}").get_json()
    assert [x["value"] for x in group["members"]] == [theirs["id"]]


def test_requests_without_a_valid_token_are_refused(client: FlaskClient, acme: ScimOrg) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer scim_not-a-real-token"}):
        response = client.get("/scim/v2/Users", headers=headers)
        assert_scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(acme: ScimOrg, app_services: Services) -> None:
    token = app_services.credentials.scim_tokens(acme.org.id)[0]
    app_services.credentials.revoke_scim_token(acme.org.id, token.id, CLI)
    assert_scim_error(acme.scim.get("/Users"), 401)


def test_invitation_mode_refuses_every_scim_call_and_says_why(acme: ScimOrg, app_services: Services) -> None:
    created = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    app_services.mode.apply(acme.org.id, m.MembershipMode.INVITATION, CLI)
    calls = [
        ("GET", "/ServiceProviderConfig", None),
        ("GET", "/Users", None),
        ("GET", f"/Users/{created['id']}", None),
        ("POST", "/Users", new_user("bob@acme.example")),
        ("DELETE", f"/Users/{created['id']}", None),
    ]
    for method, path, body in calls:
        error = assert_scim_error(acme.scim.request(method, path, body), 403)
        assert "invitation mode" in error["detail"]
    assert app_services.members.get(acme.org.id, created["id"]).member.status is m.MemberStatus.ACTIVE


def test_the_token_use_is_recorded(acme: ScimOrg, app_services: Services) -> None:
    acme.scim.get("/Users")
    assert app_services.credentials.scim_tokens(acme.org.id)[0].last_used_at is not None
