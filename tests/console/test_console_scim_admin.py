"""The console's SCIM page (issue 13): the request log with refused requests and why, filterable; IdP group
-> role mappings managed there."""

from __future__ import annotations

from console_helpers import CLI, Org, make_org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


def _sso(app_services: Services, client: FlaskClient) -> tuple[Org, str]:
    org = make_org(app_services, "Globex", m.MembershipMode.SSO, "globex.test", connection=True)
    token = app_services.credentials.create_scim_token(org.id, CLI).token
    sign_in(client, app_services, org.id, org.admin.id)
    return org, token


def test_the_scim_page_shows_refused_requests_and_filters_them(
    client: FlaskClient, app_services: Services
) -> None:
    _, token = _sso(app_services, client)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    user = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@globex.test"}'
    assert client.post("/scim/v2/Users", data=user, headers=auth).status_code == 201
    assert client.post("/scim/v2/Users", data=user, headers=auth).status_code == 409
    words = text_of(client.get("/admin/scim"))
    assert "SCIM request log" in words
    assert "POST /scim/v2/Users 409 uniqueness" in words and "POST /scim/v2/Users 201" in words
    refused = text_of(client.get("/admin/scim?outcome=refused"))
    assert "409 uniqueness" in refused and "POST /scim/v2/Users 201" not in refused
    assert "No SCIM request matches these filters" in text_of(client.get("/admin/scim?status=500"))


def test_group_role_mappings_are_managed_on_the_scim_page(
    client: FlaskClient, app_services: Services
) -> None:
    org, _ = _sso(app_services, client)
    response = post(
        client,
        "/admin/scim/group-roles",
        {"group_name": "IT Admins", "role": "admin"},
        token_from="/admin/scim",
    )
    assert response.status_code == 303
    assert "Members of the IdP group IT Admins get the admin role." in text_of(client.get("/admin/scim"))
    assert [(mp.group_name, mp.role) for mp in app_services.provisioning.role_mappings(org.id)] == [
        ("IT Admins", m.Role.ADMIN)
    ]
    assert (
        post(
            client, "/admin/scim/group-roles", {"group_name": "x", "role": "owner"}, token_from="/admin/scim"
        ).status_code
        == 400
    )
    removed = post(
        client, "/admin/scim/group-roles/remove", {"group_name": "IT Admins"}, token_from="/admin/scim"
    )
    assert removed.status_code == 303 and app_services.provisioning.role_mappings(org.id) == []
