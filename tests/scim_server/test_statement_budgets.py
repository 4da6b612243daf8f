"""The work each hot SCIM request costs, pinned as a budget of SQL statements and transactions (not a timing):
an identity provider sends these 100,000 times in a row during a first sync. A change that makes one of them
do more fails here with every statement it sent; lower a budget when a change makes a path cheaper.

Each request is measured on an organization that already served one (its Default Project is known and the
token's last use was just recorded, as during a sync), after a request of the same kind, whose statements every
later one must find in SQLAlchemy's compiled cache (``Counted.all_cached``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from scimkit import ScimOrg, new_user
from statement_counter import count_statements

from gateway.services import Services
from gateway.storage.tables import members


def _engine(app_services: Services):  # type: ignore[no-untyped-def]
    return app_services.db.engine


def _user(name: str) -> dict:
    return new_user(
        f"{name}@acme.test",
        name={"givenName": name.title(), "familyName": "Test"},
        emails=[{"value": f"{name}@acme.test", "type": "work", "primary": True}],
        active=True,
    )


@pytest.fixture
def warm(acme: ScimOrg) -> str:
    """A user already created (the first request of an organization also learns its Default Project)."""
    response = acme.scim.post("/Users", _user("first"))
    assert response.status_code == 201
    return response.get_json()["id"]


# (statements, transactions) per request, per store where they differ. PostgreSQL adds the advisory lock that
# serializes the joins of one email (``Store.lock_email``), which SQLite's single writer does not need, but sends
# the rows nothing reads back (audit, events, the request log) in one statement at commit, and a new member with
# its Default Project membership in one (data-modifying CTEs, which SQLite does not have). A new user's indexed
# addresses go with the rows written at commit (in that one statement on PostgreSQL); a PUT or PATCH replaces a
# user's indexed addresses in one statement on PostgreSQL (a DELETE in a CTE of the INSERT), in two on SQLite.
# A create asks whether another organization proved the user's email domain (rule 11) in the query that reads the
# member by email, when all its addresses are in that domain (the usual case); otherwise one indexed query more.
# Numbering a change's events also says whether the organization has webhook endpoints, which are read only then;
# on PostgreSQL that numbering is part of the one statement at commit (``Store.number_at_commit``).
# Every write adds its SCIM request-log row inside its own transaction; a read's row waits in the process and is
# written with a later write or a batch of reads (``ScimLogService``), so a read costs one transaction. A userName
# lookup reads the user and their groups in one statement. A SQLite write takes the database's write lock at its
# first write, not with the token (``gateway.storage.first_write``), and then reads the organization row again to
# check that no mode switch committed in between: one statement more than it sent when the lock came first. A
# SQLite create reads the member by email before the lock too, and its new rows wait for the lock, which it takes
# at its commit (``Store.insert_new``): under the lock it reads the member again with the organization row in one
# statement (the read taken twice, so the lock is held for the writes alone, not for the request's Python).
CREATE = ({"sqlite": 10, "postgresql": 5}, 1)
LOOKUP = (2, 1)
GET = (3, 1)
LIST_PAGE = (4, 1)
PATCH_SUSPEND = ({"sqlite": 15, "postgresql": 10}, 1)
PUT = ({"sqlite": 12, "postgresql": 7}, 1)
DELETE = ({"sqlite": 15, "postgresql": 11}, 1)
GROUP_CREATE = ({"sqlite": 13, "postgresql": 9}, 1)
GROUP_ADD_MEMBER = ({"sqlite": 12, "postgresql": 8}, 1)


def test_create_costs_one_transaction_and_few_statements(
    acme: ScimOrg, warm: str, app_services: Services
) -> None:
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.post("/Users", _user("ada"))
    assert response.status_code == 201, response.get_data(as_text=True)
    counted.within(*CREATE)
    counted.all_cached()


def test_user_name_lookup_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    acme.scim.get('/Users?filter=userName eq "nobody@acme.test"')
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.get('/Users?filter=userName eq "first@acme.test"')
    assert response.status_code == 200 and response.get_json()["totalResults"] == 1
    counted.within(*LOOKUP)
    counted.all_cached()


def test_get_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    acme.scim.get(f"/Users/{warm}")
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.get(f"/Users/{warm}")
    assert response.status_code == 200
    counted.within(*GET)
    counted.all_cached()


def test_list_page_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    for name in ("bob", "cy", "dee"):
        acme.scim.post("/Users", _user(name))
    acme.scim.get("/Users?startIndex=1&count=2")
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.get("/Users?startIndex=2&count=2")
    assert response.status_code == 200 and len(response.get_json()["Resources"]) == 2
    counted.within(*LIST_PAGE)
    counted.all_cached()


def test_patch_suspend_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    other = acme.scim.post("/Users", _user("bob")).get_json()["id"]
    acme.scim.patch(f"/Users/{other}", [{"op": "replace", "path": "active", "value": False}])
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.patch(f"/Users/{warm}", [{"op": "replace", "path": "active", "value": False}])
    assert response.status_code == 200 and response.get_json()["active"] is False
    counted.within(*PATCH_SUSPEND)
    counted.all_cached()


def test_replace_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    body = _user("first")
    acme.scim.put(f"/Users/{warm}", {**body, "displayName": "First Once"})
    body["displayName"] = "First Renamed"
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.put(f"/Users/{warm}", body)
    assert response.status_code == 200 and response.get_json()["displayName"] == "First Renamed"
    counted.within(*PUT)
    counted.all_cached()


def test_delete_budget(acme: ScimOrg, warm: str, app_services: Services) -> None:
    acme.scim.delete(f"/Users/{acme.scim.post('/Users', _user('bob')).get_json()['id']}")
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.delete(f"/Users/{warm}")
    assert response.status_code == 204
    counted.within(*DELETE)
    counted.all_cached()


def test_group_create_and_member_add_budgets(acme: ScimOrg, warm: str, app_services: Services) -> None:
    other = acme.scim.post("/Users", _user("bob")).get_json()["id"]
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"}
    with count_statements(_engine(app_services)) as created:
        response = acme.scim.post("/Groups", {**group, "members": [{"value": warm}]})
    assert response.status_code == 201
    created.within(*GROUP_CREATE)
    group_id = response.get_json()["id"]
    with count_statements(_engine(app_services)) as added:
        response = acme.scim.patch(
            f"/Groups/{group_id}", [{"op": "add", "path": "members", "value": [{"value": other}]}]
        )
    assert response.status_code == 204
    added.within(*GROUP_ADD_MEMBER)


def test_a_refused_create_writes_nothing_and_still_costs_one_transaction(
    acme: ScimOrg, warm: str, app_services: Services
) -> None:
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.post("/Users", _user("first"))
    assert response.status_code == 409
    counted.within(statements={"sqlite": 5, "postgresql": 5}, transactions=2)


def _members_inserted(app_services: Services, org_id: str, count: int) -> list[str]:
    """``count`` live members written straight into the table (the cost measured is the PATCH's, not theirs)."""
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {
            "id": member_id,
            "org_id": org_id,
            "email": f"bulk{i}@acme.test",
            "role": "member",
            "status": "active",
            "joined_via": "scim",
            "user_name": f"bulk{i}@acme.test",
            "scim_linked": True,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i, member_id in enumerate(ids)
    ]
    with app_services.db.engine.begin() as conn:
        conn.execute(sa.insert(members), rows)
    return ids


def test_adding_many_members_to_a_group_costs_a_few_statements(acme: ScimOrg, app_services: Services) -> None:
    """1,200 members in one PATCH: on PostgreSQL each check is one statement with one array parameter (a long
    IN list of parameters is compared one by one with every row); SQLite checks them 500 at a time."""
    ids = _members_inserted(app_services, acme.org.id, 1200)
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Everyone"}
    group_id = acme.scim.post("/Groups", group).get_json()["id"]
    operations = [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]
    with count_statements(_engine(app_services)) as counted:
        response = acme.scim.patch(f"/Groups/{group_id}", operations)
    assert response.status_code == 204
    checks = {"sqlite": 3, "postgresql": 1}[counted.dialect]  # the live users, then the existing memberships
    assert len(counted.matching("FROM members")) == checks, counted.report()
    assert len(counted.matching("FROM scim_group_members")) == checks, counted.report()
    listed = acme.scim.get(f"/Groups/{group_id}").get_json()["members"]
    assert sorted(member["value"] for member in listed) == sorted(ids)


def test_a_replace_rewrites_the_indexed_addresses_in_one_statement_on_postgresql(
    acme: ScimOrg, warm: str, app_services: Services
) -> None:
    body = _user("first")
    body["emails"] = [
        {"value": "first.new@acme.test", "type": "work", "primary": True},
        {"value": "first@home.test", "type": "home"},
    ]
    with count_statements(_engine(app_services)) as counted:
        assert acme.scim.put(f"/Users/{warm}", body).status_code == 200
    touching = counted.matching("scim_user_emails")
    assert len(touching) == {"sqlite": 2, "postgresql": 1}[counted.dialect], counted.report()

    def found(value: str) -> int:
        flt = f'emails.value eq "{value}"'
        return acme.scim.get("/Users", query_string={"filter": flt}).get_json()["totalResults"]

    assert (found("first@acme.test"), found("first.new@acme.test"), found("first@home.test")) == (0, 1, 1)
    body["emails"] = body["emails"][1:]
    assert acme.scim.put(f"/Users/{warm}", body).status_code == 200
    assert (found("first.new@acme.test"), found("first@home.test")) == (0, 1)


def test_a_user_with_more_addresses_than_a_cached_statement_holds_is_replaced_whole(
    acme: ScimOrg, warm: str
) -> None:
    body = _user("first")
    body["emails"] = [{"value": f"alias{n}@acme.test", "type": "other"} for n in range(70)]
    assert acme.scim.put(f"/Users/{warm}", body).status_code == 200
    body["emails"] = body["emails"][35:]
    assert acme.scim.put(f"/Users/{warm}", body).status_code == 200
    for value, expected in (("alias0@acme.test", 0), ("alias34@acme.test", 0), ("alias69@acme.test", 1)):
        flt = f'emails.value eq "{value}"'
        assert acme.scim.get("/Users", query_string={"filter": flt}).get_json()["totalResults"] == expected
