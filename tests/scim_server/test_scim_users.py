"""Users over HTTP: the mapping into members (email rule, Default Project, suspension, removal, roles),
uniqueness, read-only and write-only attributes, PUT and PATCH semantics."""

from __future__ import annotations

from scimkit import CLI, ENTERPRISE_URN, USER_URN, ScimOrg, assert_scim_error, new_user

from gateway.domain import model as m
from gateway.services import Services


def _member(services: Services, scim_org: ScimOrg, user_id: str) -> m.Member:
    return services.members.get(scim_org.org.id, user_id).member


def test_a_created_user_is_a_member_of_the_default_project_with_the_primary_email(
    acme: ScimOrg, app_services: Services
) -> None:
    response = acme.scim.post(
        "/Users",
        new_user(
            "ann.upn@acme.onmicrosoft.example",
            emails=[
                {"value": "ann.home@example.net", "type": "home"},
                {"value": "Ann@Acme.example", "type": "work", "primary": True},
            ],
        ),
    )
    assert response.status_code == 201
    assert response.headers["Location"] == response.get_json()["meta"]["location"]
    assert response.headers["ETag"] == response.get_json()["meta"]["version"]
    view = app_services.members.get(acme.org.id, response.get_json()["id"])
    assert view.member.email == "ann@acme.example"
    assert view.member.joined_via is m.JoinPath.SCIM
    assert view.member.role is m.Role.MEMBER
    assert [p.is_default for p in view.projects] == [True]


def test_email_rule_work_email_then_user_name_then_placeholder(acme: ScimOrg, app_services: Services) -> None:
    entra = acme.scim.post(
        "/Users", new_user("upn@acme.example", emails=[{"value": "work@acme.example", "type": "work"}])
    ).get_json()
    assert _member(app_services, acme, entra["id"]).email == "work@acme.example"
    upn = acme.scim.post("/Users", new_user("only.upn@acme.example")).get_json()
    assert _member(app_services, acme, upn["id"]).email == "only.upn@acme.example"
    bare = acme.scim.post("/Users", new_user("not-an-address")).get_json()
    assert _member(app_services, acme, bare["id"]).email.endswith("@scim.invalid")
    assert "emails" not in bare


def test_user_name_is_unique_ignoring_case(scim) -> None:  # type: ignore[no-untyped-def]
    assert scim.post("/Users", new_user("Ann@Acme.example")).status_code == 201
    assert_scim_error(scim.post("/Users", new_user("ann@acme.EXAMPLE")), 409, "uniqueness")


def test_an_email_of_another_organization_cannot_join(acme: ScimOrg, app_services: Services, client) -> None:  # type: ignore[no-untyped-def]
    from scimkit import make_scim_org

    other = make_scim_org(app_services, client, "Other")
    other.scim.post("/Users", new_user("taken@shared.example"))
    error = assert_scim_error(acme.scim.post("/Users", new_user("taken@shared.example")), 409, "uniqueness")
    assert "migrated" in error["detail"]


def test_bad_users_are_refused_without_a_partial_write(acme: ScimOrg, app_services: Services) -> None:
    assert_scim_error(acme.scim.post("/Users", {"schemas": [USER_URN]}), 400, "invalidValue")
    assert_scim_error(
        acme.scim.post("/Users", new_user("x@acme.example", active="maybe")), 400, "invalidValue"
    )
    assert_scim_error(
        acme.scim.post("/Users", new_user("x@acme.example", emails="nope")), 400, "invalidValue"
    )
    response = acme.scim.client.post(
        "/scim/v2/Users",
        data="{not json",
        headers={"Authorization": f"Bearer {acme.token}", "Content-Type": "application/scim+json"},
    )
    assert_scim_error(response, 400, "invalidSyntax")
    assert app_services.members.list(acme.org.id)[1] == 0


def test_read_only_attributes_are_ignored_and_password_is_never_kept(
    acme: ScimOrg, app_services: Services
) -> None:
    created = acme.scim.post(
        "/Users",
        new_user(
            "ann@acme.example",
            id="chosen-by-client",
            meta={"version": 'W/"99"'},
            password="hunter2-secret",
            groups=[{"value": "g"}],
        ),
    ).get_json()
    assert created["id"] != "chosen-by-client"
    assert "password" not in created and "groups" not in created
    member = _member(app_services, acme, created["id"])
    assert "hunter2-secret" not in repr(member.attributes)
    assert acme.scim.get(f"/Users/{created['id']}").get_json().get("password") is None


def test_active_false_suspends_and_true_restores(acme: ScimOrg, app_services: Services) -> None:
    user = acme.scim.post("/Users", new_user("ann@acme.example", active=True)).get_json()
    acme.scim.patch(f"/Users/{user['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert _member(app_services, acme, user["id"]).status is m.MemberStatus.SUSPENDED
    response = acme.scim.patch(f"/Users/{user['id']}", [{"op": "replace", "value": {"active": "True"}}])
    assert response.get_json()["active"] is True
    assert _member(app_services, acme, user["id"]).status is m.MemberStatus.ACTIVE
    actions = [e.action for e in app_services.audit.list(acme.org.id, target_id=user["id"], limit=50)[0]]
    assert "member.suspended" in actions and "member.restored" in actions


def test_delete_removes_access_and_frees_the_user_name(acme: ScimOrg, app_services: Services) -> None:
    user = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    assert acme.scim.delete(f"/Users/{user['id']}").status_code == 204
    member = _member(app_services, acme, user["id"])
    assert member.status is m.MemberStatus.REMOVED and member.removed_by is m.RemovalSource.SCIM
    assert app_services.members.get(acme.org.id, user["id"]).projects == []
    assert acme.scim.get("/Users").get_json()["totalResults"] == 0
    assert_scim_error(acme.scim.delete(f"/Users/{user['id']}"), 404)
    again = acme.scim.post("/Users", new_user("ann@acme.example"))
    assert again.status_code == 201


def test_roles_make_an_admin_and_the_last_admin_cannot_be_removed_over_scim(
    acme: ScimOrg, app_services: Services
) -> None:
    admin = acme.scim.post(
        "/Users", new_user("boss@acme.example", roles=[{"value": "Admin", "primary": True}])
    ).get_json()
    assert _member(app_services, acme, admin["id"]).role is m.Role.ADMIN
    assert admin["roles"] == [{"value": "Admin", "primary": True}]
    assert_scim_error(acme.scim.delete(f"/Users/{admin['id']}"), 409)
    assert_scim_error(acme.scim.patch(f"/Users/{admin['id']}", [{"op": "remove", "path": "roles"}]), 409)
    assert_scim_error(
        acme.scim.patch(f"/Users/{admin['id']}", [{"op": "replace", "path": "active", "value": False}]), 409
    )
    assert _member(app_services, acme, admin["id"]).is_admin
    second = acme.scim.post("/Users", new_user("deputy@acme.example", roles=[{"value": "admin"}])).get_json()
    assert acme.scim.patch(f"/Users/{admin['id']}", [{"op": "remove", "path": "roles"}]).status_code == 200
    assert _member(app_services, acme, admin["id"]).role is m.Role.MEMBER
    assert _member(app_services, acme, second["id"]).role is m.Role.ADMIN


def test_an_admin_promoted_in_the_product_keeps_the_role_when_the_idp_sends_no_roles(
    acme: ScimOrg, app_services: Services
) -> None:
    user = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    app_services.members.change_role(acme.org.id, user["id"], m.Role.ADMIN, CLI)
    acme.scim.put(f"/Users/{user['id']}", new_user("ann@acme.example", displayName="Ann"))
    assert _member(app_services, acme, user["id"]).role is m.Role.ADMIN


def test_an_existing_member_is_linked_by_email_not_duplicated(acme: ScimOrg, app_services: Services) -> None:
    existing = app_services.members.add_admin(acme.org.id, "ann@acme.example", CLI)
    created = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    assert created["id"] == existing.id
    assert _member(app_services, acme, existing.id).role is m.Role.ADMIN


def test_a_linked_member_pushed_inactive_keeps_every_change_of_the_push(
    acme: ScimOrg, app_services: Services
) -> None:
    """The link reads the member before a SQLite writer's lock and changes it before suspending it, which
    locks the member's row: the changes made before the lock must be written, not read over."""
    app_services.members.add_admin(acme.org.id, "boss@acme.example", CLI)
    existing = app_services.members.add_admin(acme.org.id, "ann@acme.example", CLI)
    pushed = new_user("ann@acme.example", displayName="Ann Lee", active=False)
    created = acme.scim.post("/Users", pushed)
    assert created.status_code in (200, 201), created.get_data(as_text=True)
    member = _member(app_services, acme, existing.id)
    assert (member.status, member.display_name, member.scim_linked) == (
        m.MemberStatus.SUSPENDED,
        "Ann Lee",
        True,
    )


def test_put_replaces_everything_and_patch_changes_only_what_it_names(acme: ScimOrg) -> None:
    user = acme.scim.post(
        "/Users",
        new_user(
            "ann@acme.example",
            name={"givenName": "Ann", "familyName": "Lee", "middleName": "Q"},
            title="Engineer",
            phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
            **{ENTERPRISE_URN: {"department": "R&D", "employeeNumber": "42"}},
        ),
    ).get_json()
    assert user["schemas"] == [USER_URN, ENTERPRISE_URN]
    patched = acme.scim.patch(
        f"/Users/{user['id']}",
        [
            {"op": "replace", "path": "name.givenName", "value": "Anne"},
            {
                "op": "add",
                "path": "phoneNumbers",
                "value": [{"value": "+1 555 0199", "type": "mobile", "primary": True}],
            },
            {"op": "replace", "path": f"{ENTERPRISE_URN}:department", "value": "Research"},
            {"op": "remove", "path": 'phoneNumbers[type eq "work"]'},
        ],
    ).get_json()
    assert patched["name"] == {"givenName": "Anne", "familyName": "Lee", "middleName": "Q"}
    assert patched["title"] == "Engineer"
    assert patched["phoneNumbers"] == [{"value": "+1 555 0199", "type": "mobile", "primary": True}]
    assert patched[ENTERPRISE_URN] == {"department": "Research", "employeeNumber": "42"}
    replaced = acme.scim.put(
        f"/Users/{user['id']}", new_user("ann@acme.example", displayName="Ann")
    ).get_json()
    assert "title" not in replaced and "name" not in replaced and ENTERPRISE_URN not in replaced
    assert replaced["displayName"] == "Ann"


def test_patch_errors_use_the_rfc_scim_types(acme: ScimOrg) -> None:
    user = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    path = f"/Users/{user['id']}"
    assert_scim_error(
        acme.scim.patch(path, [{"op": "move", "path": "title", "value": "x"}]), 400, "invalidSyntax"
    )
    assert_scim_error(acme.scim.patch(path, [{"op": "remove"}]), 400, "noTarget")
    assert_scim_error(
        acme.scim.patch(path, [{"op": "replace", "path": "nope", "value": "x"}]), 400, "invalidPath"
    )
    assert_scim_error(
        acme.scim.patch(path, [{"op": "replace", "path": "id", "value": "x"}]), 400, "mutability"
    )
    assert_scim_error(
        acme.scim.patch(path, [{"op": "replace", "path": "emails[type eq", "value": "x"}]), 400, "invalidPath"
    )
    assert_scim_error(
        acme.scim.patch(
            path, [{"op": "replace", "path": 'phoneNumbers[type eq "fax"]', "value": {"value": "1"}}]
        ),
        400,
        "noTarget",
    )
    response = acme.scim.request(
        "PATCH", path, {"Operations": [{"op": "add", "path": "title", "value": "x"}]}
    )
    assert_scim_error(response, 400, "invalidSyntax")


def test_etags_guard_updates(acme: ScimOrg) -> None:
    user = acme.scim.post("/Users", new_user("ann@acme.example")).get_json()
    path = f"/Users/{user['id']}"
    version = user["meta"]["version"]
    assert acme.scim.get(path, headers={"If-None-Match": version}).status_code == 304
    ok = acme.scim.patch(
        path, [{"op": "add", "path": "title", "value": "CTO"}], headers={"If-Match": version}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] != version
    assert_scim_error(
        acme.scim.patch(path, [{"op": "add", "path": "title", "value": "x"}], headers={"If-Match": version}),
        412,
    )
    assert_scim_error(acme.scim.put(path, new_user("ann@acme.example"), headers={"If-Match": version}), 412)
    assert_scim_error(acme.scim.delete(path, headers={"If-Match": version}), 412)
    assert acme.scim.delete(path, headers={"If-Match": ok.headers["ETag"]}).status_code == 204


def test_a_blocked_email_cannot_be_provisioned(acme: ScimOrg, app_services: Services) -> None:
    """Rule 6: an Admin's block keeps the person out whichever way the IdP tries, SCIM push included."""
    app_services.members.block_email(acme.org.id, "mallory@acme.example", CLI)
    before = app_services.members.list(acme.org.id)[1]
    error = assert_scim_error(acme.scim.post("/Users", new_user("mallory@acme.example")), 403, None)
    assert "blocked this email address" in error["detail"]
    assert app_services.members.list(acme.org.id)[1] == before
