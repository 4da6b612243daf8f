"""Groups over HTTP: membership inside POST/PUT/PATCH, large groups touched only where asked, IdP group ->
role mappings (with last-admin protection), uniqueness of names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask
from scimkit import CLI, GROUP_URN, ScimOrg, assert_scim_error, new_user

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.provisioning import ProvisioningService


def _users(scim_org: ScimOrg, count: int, prefix: str = "user") -> list[str]:
    return [
        scim_org.scim.post("/Users", new_user(f"{prefix}{i}@acme.example")).get_json()["id"]
        for i in range(count)
    ]


def _group(scim_org: ScimOrg, name: str, members: list[str] | None = None) -> dict[str, Any]:
    body = {"schemas": [GROUP_URN], "displayName": name, "members": [{"value": i} for i in members or []]}
    response = scim_org.scim.post("/Groups", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _member_ids(scim_org: ScimOrg, group_id: str) -> set[str]:
    return {x["value"] for x in scim_org.scim.get(f"/Groups/{group_id}").get_json().get("members", [])}


def test_membership_in_post_put_and_every_patch_form(acme: ScimOrg) -> None:
    a, b, c, d = _users(acme, 4)
    group = _group(acme, "Engineering", [a, b])
    assert _member_ids(acme, group["id"]) == {a, b}
    path = f"/Groups/{group['id']}"
    assert (
        acme.scim.patch(path, [{"op": "Add", "path": "members", "value": [{"value": c}]}]).status_code == 204
    )
    acme.scim.patch(path, [{"op": "Remove", "path": f'members[value eq "{a}"]'}])
    assert _member_ids(acme, group["id"]) == {b, c}
    acme.scim.patch(path, [{"op": "add", "value": {"members": [{"value": d}]}}])
    acme.scim.patch(path, [{"op": "remove", "path": "members", "value": [{"value": b}]}])
    assert _member_ids(acme, group["id"]) == {c, d}
    acme.scim.patch(path, [{"op": "replace", "path": "members", "value": [{"value": a}]}])
    assert _member_ids(acme, group["id"]) == {a}
    acme.scim.patch(
        path,
        [
            {"op": "add", "path": "members", "value": [{"value": b}]},
            {"op": "remove", "path": f'members[value eq "{b}"]'},
        ],
    )
    assert _member_ids(acme, group["id"]) == {a}
    acme.scim.put(
        path, {"schemas": [GROUP_URN], "displayName": "Engineering", "members": [{"value": c}, {"value": d}]}
    )
    assert _member_ids(acme, group["id"]) == {c, d}
    acme.scim.patch(path, [{"op": "remove", "path": "members"}])
    assert _member_ids(acme, group["id"]) == set()


def test_a_deleted_user_leaves_its_groups(acme: ScimOrg) -> None:
    a, b = _users(acme, 2)
    group = _group(acme, "Sales", [a, b])
    acme.scim.delete(f"/Users/{a}")
    assert _member_ids(acme, group["id"]) == {b}
    user = acme.scim.get(f"/Users/{b}").get_json()
    assert user["groups"] == [
        {"value": group["id"], "$ref": group["meta"]["location"], "display": "Sales", "type": "direct"}
    ]


def test_group_names_are_unique_and_members_must_be_users_of_the_org(acme: ScimOrg) -> None:
    _group(acme, "Ops")
    assert_scim_error(
        acme.scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "OPS"}), 409, "uniqueness"
    )
    other = _group(acme, "Other")
    assert_scim_error(
        acme.scim.patch(f"/Groups/{other['id']}", [{"op": "replace", "path": "displayName", "value": "ops"}]),
        409,
        "uniqueness",
    )
    assert_scim_error(
        acme.scim.patch(
            f"/Groups/{other['id']}", [{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]
        ),
        400,
        "invalidValue",
    )
    assert_scim_error(
        acme.scim.patch(
            f"/Groups/{other['id']}",
            [{"op": "add", "path": "members", "value": [{"value": other["id"], "type": "Group"}]}],
        ),
        400,
        "invalidValue",
    )
    assert _member_ids(acme, other["id"]) == set()


@contextmanager
def _statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    engine = app.extensions["gateway.services"].db.engine
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _cost(app: Flask, acme: ScimOrg, group_id: str, operation: dict[str, Any]) -> tuple[int, int]:
    """(statements, largest parameter list) of one PATCH. PostgreSQL's last statement, which writes the audit,
    event and request-log rows together and numbers the events (``Store.insert_at_commit``,
    ``Store.number_at_commit``), carries their few dozen values whatever the group's size, and is left out of the
    largest list (it still counts as a statement)."""
    with _statements(app) as seen:
        assert acme.scim.patch(f"/Groups/{group_id}", [operation]).status_code == 204
    sizes = [
        len(p) if isinstance(p, list | tuple | dict) else 1
        for sql, p in seen
        if not sql.startswith(("WITH rows_", "WITH seq_cursor"))
    ]
    return len(seen), max(sizes)


def test_adding_or_removing_one_member_costs_the_same_in_a_small_and_a_large_group(
    app: Flask, acme: ScimOrg, app_services: Services
) -> None:
    # Read-log entries written at once, so none waits to ride with (and be counted in) a PATCH measured here.
    app_services.scim_log.read_batch_seconds = 0
    users = _users(acme, 3, "small")
    small = _group(acme, "Small", users[:1])
    provisioning = ProvisioningService(*app_services.deps)
    many = [
        app_services.members.provision(
            acme.org.id, f"bulk{i}@acme.example", m.Role.MEMBER, CLI, _profile(i)
        ).id
        for i in range(300)
    ]
    large = _group(acme, "Large")
    provisioning.update_group(acme.org.id, large["id"], _add(many), CLI)
    assert len(_member_ids(acme, large["id"])) == 300

    for group in (small, large):
        add = _cost(app, acme, group["id"], {"op": "add", "path": "members", "value": [{"value": users[2]}]})
        remove = _cost(app, acme, group["id"], {"op": "remove", "path": f'members[value eq "{users[2]}"]'})
        if group is small:
            small_costs = (add, remove)
        else:
            assert (add, remove) == small_costs
            assert max(add[1], remove[1]) < 20
    assert len(_member_ids(acme, large["id"])) == 300


def _profile(i: int):  # type: ignore[no-untyped-def]
    from gateway.services.members import Profile

    return Profile(user_name=f"bulk{i}@acme.example")


def _add(ids: list[str]):  # type: ignore[no-untyped-def]
    from gateway.services.provisioning import GroupChanges

    return GroupChanges(add=ids)


def test_group_role_mapping_makes_admins_and_keeps_the_last_one(
    acme: ScimOrg, app_services: Services
) -> None:
    provisioning = ProvisioningService(*app_services.deps)
    a, b = _users(acme, 2)
    provisioning.map_group_to_role(acme.org.id, "Gateway Admins", m.Role.ADMIN, CLI)
    admins = _group(acme, "gateway admins", [a])
    assert app_services.members.get(acme.org.id, a).member.role is m.Role.ADMIN
    path = f"/Groups/{admins['id']}"
    # Removing the only Admin from the mapped group would leave the org without an Admin: refused.
    assert_scim_error(acme.scim.patch(path, [{"op": "remove", "path": f'members[value eq "{a}"]'}]), 409)
    assert _member_ids(acme, admins["id"]) == {a}
    acme.scim.patch(path, [{"op": "add", "path": "members", "value": [{"value": b}]}])
    assert app_services.members.get(acme.org.id, b).member.role is m.Role.ADMIN
    acme.scim.patch(path, [{"op": "remove", "path": f'members[value eq "{a}"]'}])
    assert app_services.members.get(acme.org.id, a).member.role is m.Role.MEMBER
    # Renaming the group away from the mapped name takes the role with it (refused here: b is the last Admin).
    assert_scim_error(
        acme.scim.patch(path, [{"op": "replace", "path": "displayName", "value": "Former"}]), 409
    )
    events, _ = app_services.audit.list(acme.org.id, action="member.role_changed", limit=10)
    assert {e.actor_type for e in events} == {m.ActorType.SCIM_TOKEN}


def test_added_members_keep_the_display_the_identity_provider_sent(acme: ScimOrg) -> None:
    """Each added membership is stored with its own ``display`` (PostgreSQL adds them all in one statement)."""
    a, b, c = _users(acme, 3)
    group = _group(acme, "Design", [a])
    added = [{"value": b, "display": "Bea Example"}, {"value": c}, {"value": a, "display": "already in"}]
    path = f"/Groups/{group['id']}"
    assert acme.scim.patch(path, [{"op": "add", "path": "members", "value": added}]).status_code == 204
    members = {x["value"]: x.get("display") for x in acme.scim.get(path).get_json()["members"]}
    assert members.keys() == {a, b, c}
    assert members[b] == "Bea Example" and members[a] != "already in"
