"""Cursor pagination (RFC 9865) on /Users, /Groups and their /.search, beside startIndex."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from scimkit import Scim, ScimOrg, assert_scim_error, make_scim_org, new_user

from gateway.services import Services

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def five_users(scim: Scim, clock: Any) -> list[str]:
    ids = []
    for i, name in enumerate(["ann", "bob", "cy", "dee", "eve"]):
        if i % 2:
            clock.advance(seconds=1)  # some share a creation time, so the id breaks the tie
        response = scim.post("/Users", new_user(f"{name}@acme.example"))
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    return ids


def walk(scim: Scim, first: str, **params: str) -> list[dict[str, Any]]:
    pages = []
    url = first
    while True:
        page = scim.get(url).get_json()
        pages.append(page)
        if "nextCursor" not in page:
            return pages
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"/Users?cursor={page['nextCursor']}&{query}"


def test_service_provider_config_advertises_both_pagination_methods(scim: Scim) -> None:
    config = scim.get("/ServiceProviderConfig").get_json()
    assert config["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }


def test_cursor_pages_visit_every_user_once_in_list_order(scim: Scim, five_users: list[str]) -> None:
    indexed = [r["id"] for r in scim.get("/Users").get_json()["Resources"]]
    pages = walk(scim, "/Users?cursor&count=2", count="2")
    assert [len(p["Resources"]) for p in pages] == [2, 2, 1]
    assert [r["id"] for p in pages for r in p["Resources"]] == indexed
    assert sorted(indexed) == sorted(five_users)
    assert all(p["totalResults"] == 5 and p["itemsPerPage"] == len(p["Resources"]) for p in pages)
    assert "previousCursor" not in pages[0] and "startIndex" not in pages[0]
    assert "nextCursor" not in pages[-1]


def test_previous_cursor_returns_the_page_before(scim: Scim, five_users: list[str]) -> None:
    first = scim.get("/Users?cursor=&count=2").get_json()
    second = scim.get(f"/Users?cursor={first['nextCursor']}&count=2").get_json()
    back = scim.get(f"/Users?cursor={second['previousCursor']}&count=2").get_json()
    assert [r["id"] for r in back["Resources"]] == [r["id"] for r in first["Resources"]]
    assert "previousCursor" not in back
    assert back["nextCursor"]


def test_a_page_that_ends_the_list_exactly_has_no_next_cursor(scim: Scim, five_users: list[str]) -> None:
    page = scim.get("/Users?cursor&count=5").get_json()
    assert len(page["Resources"]) == 5 and "nextCursor" not in page


def test_cursor_follows_the_filter_and_sort(scim: Scim, five_users: list[str]) -> None:
    flt = 'userName ne "cy@acme.example"'
    first = scim.get("/Users", query_string={"filter": flt, "cursor": "", "count": 3}).get_json()
    rest = scim.get(
        "/Users", query_string={"filter": flt, "cursor": first["nextCursor"], "count": 3}
    ).get_json()
    names = [r["userName"] for r in first["Resources"] + rest["Resources"]]
    assert sorted(names) == ["ann@acme.example", "bob@acme.example", "dee@acme.example", "eve@acme.example"]
    assert first["totalResults"] == rest["totalResults"] == 4

    args = {"sortBy": "userName", "sortOrder": "descending", "count": 2}
    pages = [scim.get("/Users", query_string={**args, "cursor": ""}).get_json()]
    while "nextCursor" in pages[-1]:
        pages.append(scim.get("/Users", query_string={**args, "cursor": pages[-1]["nextCursor"]}).get_json())
    assert [r["userName"].split("@")[0] for p in pages for r in p["Resources"]] == [
        "eve", "dee", "cy", "bob", "ann",
    ]  # fmt: skip
    back = scim.get("/Users", query_string={**args, "cursor": pages[1]["previousCursor"]}).get_json()
    assert [r["userName"] for r in back["Resources"]] == [r["userName"] for r in pages[0]["Resources"]]


def test_search_and_groups_page_by_cursor(scim: Scim, five_users: list[str]) -> None:
    first = scim.post("/Users/.search", {"schemas": [SEARCH], "cursor": "", "count": 4}).get_json()
    second = scim.post(
        "/Users/.search", {"schemas": [SEARCH], "cursor": first["nextCursor"], "count": 4}
    ).get_json()
    assert len(first["Resources"]) + len(second["Resources"]) == 5 and "nextCursor" not in second

    for name in ("g1", "g2", "g3"):
        assert scim.post("/Groups", {"schemas": [GROUP], "displayName": name}).status_code == 201
    groups = scim.get("/Groups?cursor&count=2&excludedAttributes=members").get_json()
    more = scim.get(f"/Groups?cursor={groups['nextCursor']}&count=2").get_json()
    assert sorted(g["displayName"] for g in groups["Resources"] + more["Resources"]) == ["g1", "g2", "g3"]
    assert "nextCursor" not in more
    # a Users cursor does not continue a Groups list
    assert_scim_error(scim.get(f"/Groups?cursor={first['nextCursor']}&count=4"), 400, "invalidCursor")


def test_garbage_and_tampered_cursors_are_invalid(scim: Scim, five_users: list[str]) -> None:
    cursor = scim.get("/Users?cursor&count=2").get_json()["nextCursor"]
    assert_scim_error(scim.get("/Users?cursor=not-a-cursor&count=2"), 400, "invalidCursor")
    body, tag = cursor.split(".")
    flipped = ("A" if body[0] != "A" else "B") + body[1:]
    assert_scim_error(scim.get(f"/Users?cursor={flipped}.{tag}&count=2"), 400, "invalidCursor")
    assert_scim_error(scim.get(f"/Users?cursor={body}.{tag[:-1]}x&count=2"), 400, "invalidCursor")
    # the same cursor with another filter is another query
    assert_scim_error(
        scim.get("/Users", query_string={"cursor": cursor, "count": 2, "filter": "userName pr"}),
        400,
        "invalidCursor",
    )
    assert_scim_error(scim.get(f"/Users?cursor={cursor}&count=2&startIndex=3"), 400, "invalidValue")
    assert_scim_error(scim.get("/Users?cursor&count=0"), 400, "invalidCount")
    assert_scim_error(scim.get("/?cursor&count=2"), 400, "invalidValue")


def test_another_organizations_cursor_is_refused(
    scim: Scim, five_users: list[str], app_services: Services, client: FlaskClient
) -> None:
    cursor = scim.get("/Users?cursor&count=2").get_json()["nextCursor"]
    other: ScimOrg = make_scim_org(app_services, client, "Globex")
    assert other.scim.post("/Users", new_user("zed@globex.example")).status_code == 201
    assert_scim_error(other.scim.get(f"/Users?cursor={cursor}&count=2"), 400, "invalidCursor")


def test_an_old_cursor_has_expired(scim: Scim, five_users: list[str], clock: Any) -> None:
    cursor = scim.get("/Users?cursor&count=2").get_json()["nextCursor"]
    clock.advance(minutes=59)
    assert scim.get(f"/Users?cursor={cursor}&count=2").status_code == 200
    clock.advance(minutes=2)
    assert_scim_error(scim.get(f"/Users?cursor={cursor}&count=2"), 400, "expiredCursor")


def test_sw_is_a_prefix_match_whatever_the_characters(scim: Scim) -> None:
    for name in ("ann", "Anna", "an_x", "an%y", "bob", "zoë", "zoe"):
        assert scim.post("/Users", new_user(name)).status_code == 201

    def sw(prefix: str) -> list[str]:
        flt = f'userName sw "{prefix}"'
        return sorted(
            r["userName"] for r in scim.get("/Users", query_string={"filter": flt}).get_json()["Resources"]
        )

    assert sw("an") == ["Anna", "an%y", "an_x", "ann"]
    assert sw("AN_") == ["an_x"]
    assert sw("an%") == ["an%y"]
    assert sw("zo") == ["zoe", "zoë"]
    assert sw("zoë") == ["zoë"]
    assert sw("") == ["Anna", "an%y", "an_x", "ann", "bob", "zoe", "zoë"]
