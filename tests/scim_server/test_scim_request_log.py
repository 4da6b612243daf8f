"""The SCIM request log (issue 13): every SCIM request, refused ones included, with method, path, status,
scimType, detail, the token's prefix and the request id; filterable through the admin API; old rows purged by
the outbox worker after the retention period."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from scimkit import ScimOrg, make_scim_org, new_user
from statement_counter import count_statements

from gateway.domain import model as m
from gateway.outbox import build_worker
from gateway.services import Services
from gateway.storage.scim_log_tables import scim_request_log as log_table
from tests.conftest import FakeClock

CLI = m.Actor.cli()
API = "/api/v1"


def _admin_key(services: Services, org_id: str) -> dict[str, str]:
    key = services.credentials.create_admin_key(org_id, CLI, "log reader")
    return {"Authorization": f"Bearer {key.token}"}


def _log(client: FlaskClient, auth: dict[str, str], query: str = "") -> dict:
    response = client.get(f"{API}/scim/requests{query}", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_every_request_is_logged_with_why_refused_ones_failed(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    auth = _admin_key(app_services, acme.org.id)
    created = acme.scim.post("/Users", new_user("ada@acme.test"))
    assert created.status_code == 201
    duplicate = acme.scim.post("/Users", new_user("ada@acme.test"))
    assert duplicate.status_code == 409
    bad_filter = acme.scim.get("/Users?filter=userName%20zz%20%22x%22")
    assert bad_filter.status_code == 400

    body = _log(client, auth)
    assert body["total"] == 3
    newest, conflict, ok = body["items"]
    assert (ok["method"], ok["path"], ok["status"], ok["outcome"]) == ("POST", "/scim/v2/Users", 201, "ok")
    assert ok["scim_type"] is None and ok["detail"] is None
    assert conflict["status"] == 409 and conflict["scim_type"] == "uniqueness" and conflict["detail"]
    assert conflict["request_id"] == duplicate.headers["X-Request-Id"]
    assert newest["status"] == 400 and newest["scim_type"] == "invalidFilter"
    assert all(e["token_prefix"] and acme.token.startswith(e["token_prefix"]) for e in body["items"])
    assert acme.token not in str(body)

    refused = _log(client, auth, "?outcome=refused")
    assert [e["status"] for e in refused["items"]] == [400, 409]
    assert _log(client, auth, "?scim_type=uniqueness")["total"] == 1
    assert _log(client, auth, "?method=POST&status=201")["total"] == 1
    assert _log(client, auth, "?path=/scim/v2/Users")["total"] == 3
    assert _log(client, auth, "?path=/scim/v2/Groups")["total"] == 0
    assert client.get(f"{API}/scim/requests?outcome=maybe", headers=auth).status_code == 400


def test_a_request_refused_by_the_mode_is_logged_and_another_org_sees_nothing(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    globex = make_scim_org(app_services, client, "Globex")
    app_services.mode.apply(acme.org.id, m.MembershipMode.INVITATION, CLI)
    assert acme.scim.get("/Users").status_code == 403
    assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer scim_unknown"}).status_code == 401
    entries = _log(client, _admin_key(app_services, acme.org.id))["items"]
    assert [(e["status"], e["method"]) for e in entries] == [(403, "GET")]
    assert "invitation mode" in entries[0]["detail"]
    assert _log(client, _admin_key(app_services, globex.org.id))["total"] == 0


def test_members_cannot_read_the_log(acme: ScimOrg, client: FlaskClient, app_services: Services) -> None:
    assert client.get(f"{API}/scim/requests").status_code == 401
    assert client.get(f"{API}/scim/requests", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_worker_purges_rows_older_than_the_retention(
    app: Flask, acme: ScimOrg, client: FlaskClient, app_services: Services, clock: FakeClock
) -> None:
    auth = _admin_key(app_services, acme.org.id)
    acme.scim.get("/Users")
    clock.advance(days=20)
    acme.scim.get("/Groups")
    worker = build_worker(app)
    worker.drain()
    assert _log(client, auth)["total"] == 2
    clock.advance(days=11)  # the first request is now 31 days old, past the 30-day default
    worker.drain()
    remaining = _log(client, auth)["items"]
    assert [e["path"] for e in remaining] == ["/scim/v2/Groups"]


def test_group_role_mappings_through_the_api(
    acme: ScimOrg, client: FlaskClient, app_services: Services
) -> None:
    auth = _admin_key(app_services, acme.org.id)
    put = client.put(
        f"{API}/scim/group-roles", json={"group_name": "IT Admins", "role": "admin"}, headers=auth
    )
    assert put.status_code == 200 and put.get_json()["items"][0]["group_name"] == "IT Admins"
    assert (
        client.put(
            f"{API}/scim/group-roles", json={"group_name": "x", "role": "owner"}, headers=auth
        ).status_code
        == 422
    )
    listed = client.get(f"{API}/scim/group-roles", headers=auth).get_json()["items"]
    assert [(mp["group_name"], mp["role"]) for mp in listed] == [("IT Admins", "admin")]
    assert client.delete(f"{API}/scim/group-roles/IT Admins", headers=auth).get_json()["items"] == []
    assert client.delete(f"{API}/scim/group-roles/IT Admins", headers=auth).status_code == 404


def _rows_in_table(services: Services) -> list[tuple[str, str]]:
    with services.db.engine.connect() as conn:
        return [
            (row.method, row.path)
            for row in conn.execute(sa.select(log_table.c.method, log_table.c.path).order_by(log_table.c.id))
        ]


def test_a_lookup_entry_waits_and_is_written_with_the_next_write(
    acme: ScimOrg, app_services: Services
) -> None:
    acme.scim.post("/Users", new_user("first@acme.test"))
    assert acme.scim.get('/Users?filter=userName eq "first@acme.test"').status_code == 200
    assert acme.scim.get("/Groups").status_code == 200
    assert _rows_in_table(app_services) == [("POST", "/scim/v2/Users")]  # the reads wrote nothing
    with count_statements(app_services.db.engine) as counted:
        assert acme.scim.post("/Users", new_user("ada@acme.test")).status_code == 201
    assert len(counted.matching("INSERT INTO scim_request_log")) == 1 and counted.transactions == 1
    assert _rows_in_table(app_services) == [
        ("POST", "/scim/v2/Users"),
        ("GET", "/scim/v2/Users"),
        ("GET", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Users"),
    ]


def test_read_entries_are_written_together_once_enough_wait_or_the_oldest_waited_long_enough(
    acme: ScimOrg, app_services: Services
) -> None:
    log = app_services.scim_log
    now = [100.0]
    log._monotonic = lambda: now[0]
    log.read_batch_rows = 3
    acme.scim.get("/Users")
    acme.scim.get("/Groups")
    assert _rows_in_table(app_services) == []
    acme.scim.get("/Users/nobody")  # a refused read (404) waits like any other
    assert [method for method, _ in _rows_in_table(app_services)] == ["GET"] * 3

    acme.scim.get("/Users")
    now[0] += log.read_batch_seconds - 0.01
    acme.scim.get("/Groups")
    assert len(_rows_in_table(app_services)) == 3
    now[0] += 0.02  # the first of the waiting entries is now older than read_batch_seconds
    acme.scim.get("/Schemas")
    assert len(_rows_in_table(app_services)) == 6


def test_without_batching_every_read_entry_is_written_at_once(acme: ScimOrg, app_services: Services) -> None:
    app_services.scim_log.read_batch_seconds = 0
    acme.scim.get("/Users")
    assert _rows_in_table(app_services) == [("GET", "/scim/v2/Users")]


def test_waiting_entries_are_written_when_the_process_stops(acme: ScimOrg, app_services: Services) -> None:
    acme.scim.get("/Users")
    assert _rows_in_table(app_services) == []
    app_services.scim_log.write_reads()  # what the WSGI entry point registers to run at exit
    assert _rows_in_table(app_services) == [("GET", "/scim/v2/Users")]
    app_services.scim_log.write_reads()  # nothing left: writes nothing
    assert len(_rows_in_table(app_services)) == 1
