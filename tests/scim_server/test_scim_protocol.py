"""Protocol plumbing: discovery, errors for unknown URLs and methods, list paging/sorting/projection,
filters over HTTP, /.search, and Bulk with bulkId references and failOnErrors."""

from __future__ import annotations

from flask.testing import FlaskClient
from scimkit import GROUP_URN, SCIM_JSON, ScimOrg, assert_scim_error, new_user

from gateway.services import Services

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_discovery_is_honest_and_read_only(scim) -> None:  # type: ignore[no-untyped-def]
    config = scim.get("/ServiceProviderConfig")
    assert config.mimetype == SCIM_JSON
    body = config.get_json()
    assert body["patch"]["supported"] and body["bulk"]["supported"] and body["etag"]["supported"]
    assert body["changePassword"]["supported"] is False
    assert body["bulk"]["maxOperations"] == 1000 and body["bulk"]["maxPayloadSize"] == 1048576
    types = scim.get("/ResourceTypes").get_json()
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    assert scim.get("/ResourceTypes/User").get_json()["schemaExtensions"][0]["required"] is False
    schemas = {s["id"] for s in scim.get("/Schemas").get_json()["Resources"]}
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" in schemas
    assert scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").get_json()["name"] == "Group"
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert_scim_error(scim.post(path, {}), 405)
        assert_scim_error(scim.delete(path), 405)
    assert_scim_error(scim.get("/ResourceTypes/Nope"), 404)
    assert_scim_error(scim.get("/Schemas/urn:nope"), 404)


def test_unknown_urls_and_methods_answer_scim_errors(scim) -> None:  # type: ignore[no-untyped-def]
    assert_scim_error(scim.get("/Nope"), 404)
    assert_scim_error(scim.get("/Users/a/b"), 404)
    assert_scim_error(scim.delete("/Users"), 405)
    assert_scim_error(scim.put("/Groups", {}), 405)
    assert_scim_error(scim.get("/Bulk"), 405)


def test_paging_sorting_and_projection(scim) -> None:  # type: ignore[no-untyped-def]
    for name in ("carol", "alice", "bob"):
        scim.post("/Users", new_user(f"{name}@acme.example", displayName=name.title(), title="Eng"))
    page = scim.get("/Users?sortBy=userName&count=2&startIndex=2").get_json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["bob@acme.example", "carol@acme.example"]
    desc = scim.get("/Users?sortBy=displayName&sortOrder=descending").get_json()
    assert [r["displayName"] for r in desc["Resources"]] == ["Carol", "Bob", "Alice"]
    assert scim.get("/Users?count=0").get_json() | {"Resources": None} == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 3, "startIndex": 1, "itemsPerPage": 0, "Resources": None,
    }  # fmt: skip
    only = scim.get("/Users?attributes=userName&sortBy=userName").get_json()["Resources"][0]
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.get("/Users?excludedAttributes=title,meta").get_json()["Resources"][0]
    assert "title" not in without and "meta" not in without and "userName" in without
    assert_scim_error(scim.get("/Users?count=many"), 400, "invalidValue")
    assert_scim_error(scim.get("/Users?sortBy=phoneNumbers"), 400, "invalidFilter")
    assert_scim_error(scim.get("/Users?attributes=a&excludedAttributes=b"), 400, "invalidValue")


def test_filters_over_http(scim) -> None:  # type: ignore[no-untyped-def]
    scim.post("/Users", new_user("ann@acme.example", externalId="E1", name={"givenName": "Ann"},
                                 emails=[{"value": "Ann@Acme.example", "type": "work", "primary": True}]))  # fmt: skip
    scim.post("/Users", new_user("bob@acme.example", externalId="e2", active=False,
                                 emails=[{"value": "bob@home.example", "type": "home"}]))  # fmt: skip

    def names(expr: str) -> list[str]:
        response = scim.get("/Users", query_string={"filter": expr, "sortBy": "userName"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["userName"] for r in response.get_json()["Resources"]]

    assert names('USERNAME eq "ANN@acme.example"') == ["ann@acme.example"]
    assert names('externalId eq "e1"') == []
    assert names('emails[type eq "work"].value eq "ann@acme.example"') == ["ann@acme.example"]
    assert names('emails[type eq "home" and value ew "@home.example"]') == ["bob@acme.example"]
    assert names("active eq false") == ["bob@acme.example"]
    assert names('not (userName sw "ann") and emails pr') == ["bob@acme.example"]
    assert names('name.givenName pr or externalId eq "e2"') == ["ann@acme.example", "bob@acme.example"]
    assert names('meta.lastModified gt "2000-01-01T00:00:00Z"') == ["ann@acme.example", "bob@acme.example"]
    assert names('urn:ietf:params:scim:schemas:core:2.0:User:userName co "OB"') == ["bob@acme.example"]
    for bad in ('userName eq', 'shoeSize eq "x"', 'userName zz "x"', '(userName eq "a"', 'active eq "yes"',
                'meta.created gt "yesterday"', 'emails[nope eq "x"]'):  # fmt: skip
        assert_scim_error(scim.get("/Users", query_string={"filter": bad}), 400, "invalidFilter")


def test_search_endpoints(scim) -> None:  # type: ignore[no-untyped-def]
    user = scim.post("/Users", new_user("ann@acme.example")).get_json()
    group = scim.post(
        "/Groups", {"schemas": [GROUP_URN], "displayName": "Ann's team", "members": [{"value": user["id"]}]}
    ).get_json()
    found = scim.post(
        "/Users/.search",
        {"schemas": [SEARCH], "filter": 'userName eq "ann@acme.example"', "attributes": ["userName"]},
    )
    assert found.get_json()["Resources"] == [
        {"schemas": user["schemas"], "id": user["id"], "userName": "ann@acme.example"}
    ]
    groups = scim.post(
        "/Groups/.search", {"schemas": [SEARCH], "filter": f'members[value eq "{user["id"]}"]'}
    ).get_json()
    assert [g["id"] for g in groups["Resources"]] == [group["id"]]
    everything = scim.post("/.search", {"schemas": [SEARCH], "count": 1, "startIndex": 2}).get_json()
    assert everything["totalResults"] == 2 and [r["id"] for r in everything["Resources"]] == [group["id"]]
    by_name = scim.post("/.search", {"schemas": [SEARCH], "filter": 'displayName sw "ann"'}).get_json()
    assert [r["id"] for r in by_name["Resources"]] == [group["id"]]
    assert_scim_error(
        scim.post("/.search", {"schemas": [SEARCH], "filter": 'nothing eq "x"'}), 400, "invalidFilter"
    )
    assert_scim_error(scim.post("/Users/.search", ["not", "an", "object"]), 400, "invalidSyntax")


def test_bulk_with_bulk_id_references_and_fail_on_errors(scim, app_services: Services, acme: ScimOrg) -> None:  # type: ignore[no-untyped-def]
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": new_user("ann@acme.example")},
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": "bulkId:u1"}]}},
        {"method": "PATCH", "path": "/Users/bulkId:u1",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "add", "path": "title", "value": "Lead"}]}},
        {"method": "DELETE", "path": "/Groups/bulkId:g1"},
    ]})  # fmt: skip
    assert response.status_code == 200
    answers = response.get_json()["Operations"]
    assert [a["status"] for a in answers] == ["201", "201", "200", "204"]
    assert answers[0]["location"].endswith(answers[0]["location"].rsplit("/", 1)[1])
    user_id = answers[0]["location"].rsplit("/", 1)[1]
    assert scim.get(f"/Users/{user_id}").get_json()["title"] == "Lead"

    stopped = scim.post("/Bulk", {"schemas": [BULK], "failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": new_user("ann@acme.example")},
        {"method": "POST", "path": "/Users", "bulkId": "never", "data": new_user("zed@acme.example")},
    ]}).get_json()["Operations"]  # fmt: skip
    assert len(stopped) == 1 and stopped[0]["status"] == "409"
    assert stopped[0]["response"]["scimType"] == "uniqueness"
    assert (
        scim.get("/Users", query_string={"filter": 'userName eq "zed@acme.example"'}).get_json()[
            "totalResults"
        ]
        == 0
    )

    assert_scim_error(
        scim.post("/Bulk", {"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}] * 1001}),
        413,
    )
    assert_scim_error(scim.post("/Bulk", {"Operations": []}), 400, "invalidSyntax")
    unknown = scim.post(
        "/Bulk", {"schemas": [BULK], "Operations": [{"method": "DELETE", "path": "/Users/bulkId:x"}]}
    )
    assert unknown.get_json()["Operations"][0]["status"] == "409"


def test_oversized_bodies_are_refused_as_scim_errors(client: FlaskClient, acme: ScimOrg) -> None:
    response = client.post(
        "/scim/v2/Users",
        data=b"{" + b" " * (1048576 + 10) + b"}",
        headers={"Authorization": f"Bearer {acme.token}", "Content-Type": SCIM_JSON},
    )
    assert_scim_error(response, 413)
