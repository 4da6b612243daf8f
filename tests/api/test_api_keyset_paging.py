"""Keyset paging (``?cursor=``) of the long admin lists: members, invitations, the audit log; and the member
search, served from an index, keeps its substring semantics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from api_helpers import API, CLI, Tenant, add_member, problem
from flask import Flask
from flask.testing import FlaskClient
from statement_counter import count_statements

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage.tables import audit_events, members


def walk(client: FlaskClient, tenant: Tenant, first: str) -> list[dict[str, Any]]:
    pages = [client.get(first, headers=tenant.auth).get_json()]
    while pages[-1]["links"]["next"]:
        nxt = pages[-1]["links"]["next"].removeprefix("http://gateway.test")
        pages.append(client.get(nxt, headers=tenant.auth).get_json())
    return pages


def test_members_by_cursor_match_the_offset_pages(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    for i in range(6):
        add_member(app_services, tenant.org_id, f"user{i}@acme.test")
    everyone = client.get(f"{API}/members?per_page=200", headers=tenant.auth).get_json()["items"]
    pages = walk(client, tenant, f"{API}/members?cursor=&per_page=3")
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in everyone]
    assert all(p["total"] is None and p["page"] is None for p in pages)
    assert pages[0]["next_cursor"] and pages[-1]["next_cursor"] is None
    assert pages[1]["links"]["next"].startswith("http://gateway.test/api/v1/members?cursor=")


def test_an_offset_page_offers_a_cursor_to_switch_to_keyset(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    for i in range(4):
        add_member(app_services, tenant.org_id, f"user{i}@acme.test")
    first = client.get(f"{API}/members?per_page=2", headers=tenant.auth).get_json()
    assert first["total"] == 5
    rest = client.get(f"{API}/members?per_page=2&cursor={first['next_cursor']}", headers=tenant.auth)
    second = client.get(f"{API}/members?per_page=2&page=2", headers=tenant.auth).get_json()
    assert [i["id"] for i in rest.get_json()["items"]] == [i["id"] for i in second["items"]]


def test_cursor_follows_the_filters_it_was_issued_for(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    for i in range(4):
        add_member(app_services, tenant.org_id, f"user{i}@acme.test")
    body = client.get(f"{API}/members?q=user&cursor=&per_page=2", headers=tenant.auth).get_json()
    assert [i["email"] for i in body["items"]] == ["user0@acme.test", "user1@acme.test"]
    same = client.get(f"{API}/members?q=user&cursor={body['next_cursor']}&per_page=2", headers=tenant.auth)
    assert [i["email"] for i in same.get_json()["items"]] == ["user2@acme.test", "user3@acme.test"]
    other = client.get(f"{API}/members?q=use&cursor={body['next_cursor']}&per_page=2", headers=tenant.auth)
    problem(other, 400, "invalid-cursor")


def test_bad_tampered_and_foreign_cursors_are_refused(
    client: FlaskClient, app_services: Services, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    for i in range(3):
        add_member(app_services, tenant.org_id, f"user{i}@acme.test")
    cursor = client.get(f"{API}/members?cursor=&per_page=1", headers=tenant.auth).get_json()["next_cursor"]
    problem(client.get(f"{API}/members?cursor=garbage", headers=tenant.auth), 400, "invalid-cursor")
    body, tag = cursor.split(".")
    forged = ("A" if body[0] != "A" else "B") + body[1:]
    problem(client.get(f"{API}/members?cursor={forged}.{tag}", headers=tenant.auth), 400, "invalid-cursor")
    # a members cursor does not continue the audit log, nor another organization's members
    problem(client.get(f"{API}/audit-events?cursor={cursor}", headers=tenant.auth), 400, "invalid-cursor")
    other = make_tenant("Globex")
    problem(client.get(f"{API}/members?cursor={cursor}", headers=other.auth), 400, "invalid-cursor")


def test_audit_and_invitations_page_by_cursor(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    for i in range(5):
        app_services.invitations.create(tenant.org_id, f"guest{i}@acme.test", m.Role.MEMBER, CLI)
    offset = client.get(f"{API}/audit-events?per_page=200", headers=tenant.auth).get_json()
    pages = walk(client, tenant, f"{API}/audit-events?cursor=&per_page=2")
    assert [e["id"] for p in pages for e in p["items"]] == [e["id"] for e in offset["items"]]
    assert len(pages) == -(-offset["total"] // 2)

    everyone = client.get(f"{API}/invitations?per_page=200", headers=tenant.auth).get_json()["items"]
    pages = walk(client, tenant, f"{API}/invitations?cursor=&per_page=2")
    assert [i["id"] for p in pages for i in p["items"]] == [i["id"] for i in everyone]
    assert len(everyone) == 5


def test_member_search_keeps_substring_semantics(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    people = {
        "ada@acme.test": ("Ada Lovelace", "Ada", "Lovelace"),
        "grace@acme.test": ("Rear Admiral", "Grace", "Hopper"),
        "x_y%z@acme.test": (None, None, None),
        "zoe@acme.test": ("ZOË Ünal", None, None),
    }
    for email, (display, given, family) in people.items():
        member = add_member(app_services, tenant.org_id, email)
        with app_services.members.db.transaction() as tx:
            row = tx.get(m.Member, tenant.org_id, member.id)
            row.display_name, row.given_name, row.family_name = display, given, family

    def found(q: str) -> list[str]:
        body = client.get(f"{API}/members", query_string={"q": q}, headers=tenant.auth).get_json()
        return sorted(i["email"] for i in body["items"])

    def scanned(q: str) -> list[str]:
        """The search as it was before the index: three LIKE tests on every member of the organization."""
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        full = sa.func.lower(members.c.given_name + " " + members.c.family_name)
        with app_services.members.db.transaction() as tx:
            rows = tx.session.scalars(
                sa.select(members.c.email).where(
                    members.c.org_id == tenant.org_id,
                    members.c.status != "removed",
                    sa.or_(
                        members.c.email.like(like, escape="\\"),
                        sa.func.lower(members.c.display_name).like(like, escape="\\"),
                        full.like(like, escape="\\"),
                    ),
                )
            )
            return sorted(rows)

    assert found("LOVE") == ["ada@acme.test"]  # display name, any case
    assert found("grace hop") == ["grace@acme.test"]  # given + family
    assert found("admiral") == ["grace@acme.test"]
    assert found("ce@acm") == ["grace@acme.test"]  # email
    assert found("_y%") == ["x_y%z@acme.test"]  # LIKE wildcards are literal
    assert found("y") == ["x_y%z@acme.test"]  # one character: no index, same answer
    assert found("ov") == ["ada@acme.test"]
    assert found("nobody") == []
    for q in (
        "LOVE",
        "grace hop",
        "e h",
        "y",
        "ov",
        "ac",
        "acme",
        "ünal",
        "Ünal",
        "ZOË",
        "zoë",
        '"',
        "a'b",
        "%",
    ):
        assert found(q) == scanned(q), q


def test_lists_without_keyset_paging_ignore_a_cursor(client: FlaskClient, tenant: Tenant) -> None:
    body = client.get(f"{API}/scim-tokens?cursor=anything", headers=tenant.auth).get_json()
    assert body["page"] == 1 and body["total"] == len(body["items"])


def test_a_full_first_page_takes_its_total_from_the_kept_sizes(
    app: Flask, client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    """``total`` of a whole list (members, by status or live; the audit log) is read from ``list_counts``,
    which triggers keep, so a first page costs the same at any size; a filtered list still counts its rows."""
    people = [add_member(app_services, tenant.org_id, f"user{i}@acme.test") for i in range(5)]
    app_services.members.suspend(tenant.org_id, people[0].id, CLI)
    app_services.members.remove(tenant.org_id, people[1].id, CLI)
    engine = app_services.db.engine
    expected = {"": 5, "&status=active": 4, "&status=suspended": 1, "&status=removed": 1}
    for status, total in expected.items():
        with count_statements(engine) as counted:
            body = client.get(f"{API}/members?per_page=1{status}", headers=tenant.auth).get_json()
        assert body["total"] == total, status
        assert counted.matching("count(") == [] and len(counted.matching("list_counts")) == 1, (
            counted.report()
        )
    with count_statements(engine) as counted:
        body = client.get(f"{API}/members?per_page=1&q=user", headers=tenant.auth).get_json()
    assert body["total"] == 4 and len(counted.matching("count(")) == 1
    with engine.connect() as conn:
        events = conn.scalar(
            sa.select(sa.func.count()).select_from(audit_events).where(audit_events.c.org_id == tenant.org_id)
        )
    with count_statements(engine) as counted:
        body = client.get(f"{API}/audit-events?per_page=1", headers=tenant.auth).get_json()
    assert body["total"] == events > 1
    assert counted.matching("count(") == [] and len(counted.matching("list_counts")) == 1, counted.report()
    with count_statements(engine) as counted:
        body = client.get(
            f"{API}/audit-events?per_page=1&action=member.joined", headers=tenant.auth
        ).get_json()
    assert body["total"] == 6 and len(counted.matching("count(")) == 1
