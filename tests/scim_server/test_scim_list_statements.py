"""Statement budgets of the SCIM list paths: a page that holds the whole result tells the total itself, so no
``count(*)`` runs; only a page that does not (full, or past the end) counts."""

from __future__ import annotations

from flask import Flask
from scimkit import Scim, ScimOrg, new_user
from statement_counter import Counted, count_statements

from gateway.domain.groups import Query
from gateway.services import Services
from scim.filter import parse_filter


def _work(counted: Counted) -> list[str]:
    """The statements of the use case itself (not the transaction bracket the engine sends)."""
    return [s for s in counted.statements if not s.strip().upper().startswith(("BEGIN", "COMMIT"))]


def _engine(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["gateway.services"].db.engine


def test_a_list_page_that_fits_runs_no_count(app: Flask, scim: Scim) -> None:
    for name in ("ann", "bob", "cy"):
        assert scim.post("/Users", new_user(name)).status_code == 201
    with count_statements(_engine(app)) as counted:
        page = scim.get("/Users?count=10").get_json()
    assert page["totalResults"] == 3 and len(page["Resources"]) == 3
    assert counted.matching("count(") == [], counted.report()


def test_a_filtered_lookup_runs_no_count(app: Flask, scim: Scim) -> None:
    for name in ("ann", "bob"):
        assert scim.post("/Users", new_user(name)).status_code == 201
    for flt in ('userName eq "bob"', 'userName eq "nobody"', 'emails.value eq "x@y.example"'):
        with count_statements(_engine(app)) as counted:
            page = scim.get("/Users", query_string={"filter": flt}).get_json()
        assert page["totalResults"] == (1 if "bob" in flt else 0)
        assert counted.matching("count(") == [], counted.report()


def test_the_list_use_case_reads_a_page_and_its_groups(
    app: Flask, app_services: Services, acme: ScimOrg, scim: Scim
) -> None:
    for name in ("ann", "bob", "cy"):
        assert scim.post("/Users", new_user(name)).status_code == 201
    query = Query(filter=parse_filter('userName sw "bo"'))
    with count_statements(_engine(app)) as counted:
        users, total = app_services.provisioning.list_users(acme.org.id, query)
    assert total == 1 and len(users) == 1
    assert len(_work(counted)) == 2, counted.report()  # the page (ids, then rows, in one join) and the groups


def test_a_user_name_lookup_reads_the_user_and_their_groups_in_one_statement(
    app: Flask, app_services: Services, acme: ScimOrg, scim: Scim
) -> None:
    bob = scim.post("/Users", new_user("Bob")).get_json()["id"]
    scim.post("/Users", new_user("ann"))
    for name in ("zeta", "Alpha", "beta", "Gamma"):
        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
        assert scim.post("/Groups", {**group, "members": [{"value": bob}]}).status_code == 201
    query = Query(filter=parse_filter('userName eq "bOB"'))
    with count_statements(_engine(app)) as counted:
        users, total = app_services.provisioning.list_users(acme.org.id, query)
    assert total == 1 and [view.member.id for view in users] == [bob]
    assert len(_work(counted)) == 1, counted.report()
    # The same groups, in the same order, as the user's own representation lists them.
    listed = scim.get("/Users", query_string={"filter": 'userName eq "bob"'}).get_json()["Resources"][0]
    assert listed["groups"] == scim.get(f"/Users/{bob}").get_json()["groups"]
    assert sorted(g["display"] for g in listed["groups"]) == sorted(["zeta", "Alpha", "beta", "Gamma"])
    assert [g["value"] for g in listed["groups"]] == [gid for gid, _ in users[0].groups]
    nobody = Query(filter=parse_filter('userName eq "nobody"'))
    assert app_services.provisioning.list_users(acme.org.id, nobody) == ([], 0)


def test_a_full_page_or_one_past_the_end_reads_the_kept_size(app: Flask, scim: Scim) -> None:
    """The unfiltered list's total comes from ``list_counts`` (kept by triggers), never from counting rows."""
    for name in ("ann", "bob", "cy"):
        assert scim.post("/Users", new_user(name)).status_code == 201
    with count_statements(_engine(app)) as counted:
        page = scim.get("/Users?count=2").get_json()
    assert page["totalResults"] == 3 and counted.matching("count(") == []
    assert len(counted.matching("list_counts")) == 1, counted.report()
    with count_statements(_engine(app)) as counted:
        page = scim.get("/Users?startIndex=3&count=2").get_json()
    assert page["totalResults"] == 3 and counted.matching("list_counts") == []  # a short page after the start
    with count_statements(_engine(app)) as counted:
        page = scim.get("/Users?startIndex=9&count=2").get_json()
    assert page["totalResults"] == 3 and page["Resources"] == []
    assert counted.matching("count(") == [] and len(counted.matching("list_counts")) == 1


def test_a_full_page_of_a_filtered_list_counts_its_rows(app: Flask, scim: Scim) -> None:
    for name in ("ann", "anna", "annie", "bob"):
        assert scim.post("/Users", new_user(name)).status_code == 201
    with count_statements(_engine(app)) as counted:
        page = scim.get("/Users", query_string={"filter": 'userName sw "ann"', "count": 2}).get_json()
    assert page["totalResults"] == 3 and len(counted.matching("count(")) == 1, counted.report()
    assert counted.matching("list_counts") == []


def test_a_removed_user_leaves_the_total(app: Flask, scim: Scim) -> None:
    ids = [scim.post("/Users", new_user(name)).get_json()["id"] for name in ("ann", "bob", "cy", "dee")]
    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    off = [{"op": "replace", "path": "active", "value": False}]
    assert scim.patch(f"/Users/{ids[1]}", off).status_code in (200, 204)
    page = scim.get("/Users?count=1").get_json()
    assert page["totalResults"] == 3  # a suspended (inactive) user is still listed; a deleted one is not
