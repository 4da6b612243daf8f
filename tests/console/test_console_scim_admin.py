"""The console's SCIM page (issue 13): the request log with refused requests and why, filterable; IdP group
-> role mappings managed there. A push refused because the account belongs to another organization offers to
request its migration (issue 14)."""

from __future__ import annotations

import re

from console_helpers import CLI, Org, make_org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from tests.conftest import FakeClock


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


MIGRATION_FORM = re.compile(
    r'<form method="post" action="/admin/migrations" class="inline">(.*?)</form>', re.S
)
LOG_TABLE = re.compile(r'<table id="scim-log">(.*?)</table>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _offered_forms(page: str) -> list[dict[str, str]]:
    """The hidden fields of each "Request migration" form on the page, as a browser would submit them."""
    return [dict(HIDDEN.findall(form)) for form in MIGRATION_FORM.findall(page)]


def test_a_push_refused_for_an_account_elsewhere_offers_to_request_its_migration(
    client: FlaskClient, app_services: Services, clock: FakeClock
) -> None:
    org, token = _sso(app_services, client)
    personal = app_services.orgs.create("Ada Lovelace", m.MembershipMode.INVITATION, CLI).org
    ada = app_services.members.add_admin(personal.id, "ada@mail.test", CLI)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    user = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Ada@Mail.test"}'
    grace = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"grace@globex.test"}'
    assert client.post("/scim/v2/Users", data=grace, headers=auth).status_code == 201
    assert client.post("/scim/v2/Users", data=grace, headers=auth).status_code == 409  # a plain duplicate
    assert client.post("/scim/v2/Users", data=user, headers=auth).status_code == 409

    page = client.get("/admin/scim")
    words = text_of(page)
    assert "must be migrated" in words and "Account: ada@mail.test Request migration" in words
    assert "Ada Lovelace" not in words
    forms = _offered_forms(page.get_data(as_text=True))
    assert len(forms) == 1  # only the account elsewhere, not the duplicate userName
    assert forms[0]["email"] == "ada@mail.test" and forms[0]["action"] == "preview"
    assert forms[0]["csrf_token"]
    only = LOG_TABLE.findall(client.get("/admin/scim?outcome=migration").get_data(as_text=True))[0]
    assert only.count("<tr>") == 2 and "Account: <span" in only and "409" in only and ">201<" not in only
    assert "ada@mail.test" in text_of(client.get("/admin/migrations"))  # also listed there

    assert client.post("/admin/migrations", data={**forms[0], "csrf_token": "forged"}).status_code == 400
    preview = client.post("/admin/migrations", data=forms[0])
    assert preview.status_code == 200
    assert "Moving ada@mail.test into Globex would:" in text_of(preview)
    assert 'value="ada@mail.test"' in preview.get_data(as_text=True)  # the request form, filled in
    assert app_services.migrations.list(org.id) == []
    requested = post(client, "/admin/migrations", {"email": "ada@mail.test", "action": "request"},
                     token_from="/admin/migrations")  # fmt: skip
    assert requested.status_code == 303

    clock.advance(minutes=2)
    person = FlaskClient(client.application)
    sign_in(person, app_services, personal.id, ada.id)
    migration = app_services.migrations.list(org.id)[0]
    post(person, f"/admin/migrations/{migration.id}/confirm", token_from="/admin/migrations")
    applied = app_services.migrations.get(org.id, migration.id)
    assert applied.applied_at is not None

    again = client.post("/scim/v2/Users", data=user, headers=auth)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.get_json()["id"] == applied.target_member_id
    assert [x.id for x in app_services.members.list(org.id, query="ada@")[0]] == [applied.target_member_id]
