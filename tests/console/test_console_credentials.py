"""SCIM tokens and admin API keys in the console: shown once, listed by prefix, last use, revocation."""

from __future__ import annotations

import re

from console_helpers import CLI, Org, field_error, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.members import Profile


def _secret(body: str) -> str | None:
    found = re.search(r'id="secret-value" class="mono" type="text" readonly value="([^"]+)"', body)
    return found.group(1) if found else None


def test_a_scim_token_is_shown_once_with_a_copy_button(
    client: FlaskClient, app_services: Services, globex: Org, clock
) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    page = text_of(client.get("/admin/scim"))
    assert "SCIM base URL http://gateway.test/scim/v2" in page
    response = post(client, "/admin/scim/tokens", {"name": "Okta provisioning"}, token_from="/admin/scim")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    token = _secret(body)
    assert token and token.startswith("scim_")
    assert 'data-copy="secret-value"' in body and "shown only once" in body
    org, record = app_services.credentials.authenticate_scim_token(token)
    assert org.id == globex.id

    listing = client.get("/admin/scim").get_data(as_text=True)
    assert token not in listing and _secret(listing) is None
    assert f"{record.prefix}…" in listing
    assert "Okta provisioning" in text_of(client.get("/admin/scim"))
    assert "2026-11-02 09:00 UTC active" in text_of(client.get("/admin/scim"))  # last used


def test_scim_activity_is_listed(client: FlaskClient, app_services: Services, globex: Org) -> None:
    idp = m.Actor(m.ActorType.SCIM_TOKEN, id="t1", label="SCIM token scim_abc")
    app_services.members.provision(globex.id, "bob@globex.test", m.Role.MEMBER, idp, Profile())
    sign_in(client, app_services, globex.id, globex.admin.id)
    assert "SCIM token scim_abc member.joined email=bob@globex.test" in text_of(client.get("/admin/scim"))


def test_revoking_a_scim_token(client: FlaskClient, app_services: Services, globex: Org) -> None:
    issued = app_services.credentials.create_scim_token(globex.id, CLI, "old")
    sign_in(client, app_services, globex.id, globex.admin.id)
    response = post(client, f"/admin/scim/tokens/{issued.scim_token.id}/revoke", token_from="/admin/scim")
    assert response.status_code == 303
    assert "is revoked" in text_of(client.get(response.headers["Location"]))
    assert not app_services.credentials.scim_tokens(globex.id)[0].is_usable
    again = post(client, f"/admin/scim/tokens/{issued.scim_token.id}/revoke", token_from="/admin/scim")
    assert again.status_code == 409 and "already revoked" in text_of(again)


def test_in_invitation_mode_the_scim_page_says_tokens_are_suspended(admin_client: FlaskClient) -> None:
    post(admin_client, "/admin/scim/tokens", {"name": "early"}, token_from="/admin/scim")
    page = text_of(admin_client.get("/admin/scim"))
    assert "SCIM requests are refused" in page and "suspended" in page


def test_a_too_long_name_is_shown_next_to_the_field(admin_client: FlaskClient) -> None:
    response = post(admin_client, "/admin/scim/tokens", {"name": "x" * 250}, token_from="/admin/scim")
    assert response.status_code == 400
    assert "1 to 200 characters" in (field_error(response, "name") or "")


def test_admin_api_keys_are_created_once_and_revoked(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    response = post(admin_client, "/admin/api-keys", {"name": "billing sync"}, token_from="/admin/api-keys")
    key = _secret(response.get_data(as_text=True))
    assert key and app_services.credentials.authenticate_api_key(key).org.id == acme.id
    listing = admin_client.get("/admin/api-keys").get_data(as_text=True)
    assert key not in listing and "billing sync" in listing
    key_id = app_services.credentials.api_keys(acme.id)[0].id
    revoked = post(admin_client, f"/admin/api-keys/{key_id}/revoke", token_from="/admin/api-keys")
    assert revoked.status_code == 303
    assert app_services.credentials.api_keys(acme.id)[0].revoked_at is not None
