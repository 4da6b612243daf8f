"""Invitations (rule 3) over the API: create, list, revoke, resend, and accept with a verified sign-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from api_helpers import API, CLI, Tenant, problem
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME


def _invite(client: FlaskClient, tenant: Tenant, email: str = "new@acme.test", **extra: Any) -> dict:
    response = client.post(f"{API}/invitations", json={"email": email, **extra}, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _identity(
    client: FlaskClient, services: Services, email: str = "new@acme.test", verified: bool = True
) -> str:
    _, token = services.sessions.start_identity(email, verified, "google", f"sub-{email}")
    client.set_cookie(COOKIE_NAME, token)
    return token


def _accept(client: FlaskClient, token: str):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/invitations/accept", json={"token": token})


def test_create_returns_the_link_once(client: FlaskClient, tenant: Tenant) -> None:
    body = _invite(client, tenant, "New@Acme.test", role="admin")
    assert body["invitation"]["email"] == "new@acme.test"
    assert body["invitation"]["role"] == "admin"
    assert body["invitation"]["status"] == "pending"
    link = urlsplit(body["accept_url"])
    assert (link.scheme, link.netloc, link.path) == ("http", "gateway.test", "/invitations/accept")
    assert parse_qs(link.query)["token"] == [body["token"]]
    for url in (f"{API}/invitations", f"{API}/invitations/{body['invitation']['id']}"):
        text = client.get(url, headers=tenant.auth).get_data(as_text=True)
        assert body["token"] not in text
        assert "token_hash" not in text


def test_duplicate_and_existing_member_are_409(client: FlaskClient, tenant: Tenant) -> None:
    _invite(client, tenant)
    again = client.post(f"{API}/invitations", json={"email": "new@acme.test"}, headers=tenant.auth)
    problem(again, 409, "email-taken")
    member = client.post(f"{API}/invitations", json={"email": "admin@acme.test"}, headers=tenant.auth)
    problem(member, 409, "email-taken")


def test_create_is_refused_in_sso_mode(client: FlaskClient, app_services: Services, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant("Umbrella", m.MembershipMode.SSO)
    response = client.post(f"{API}/invitations", json={"email": "x@umbrella.test"}, headers=tenant.auth)
    body = problem(response, 409, "mode-forbids")
    assert "SSO mode" in body["detail"]
    assert app_services.invitations.list(tenant.org_id)[1] == 0


def test_accept_creates_the_member_and_rotates_the_session(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    issued = _invite(client, tenant)
    identity_token = _identity(client, app_services)
    response = _accept(client, issued["token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    member = response.get_json()
    assert member["email"] == "new@acme.test" and member["joined_via"] == "invitation"
    new_token = client.get_cookie(COOKIE_NAME).value
    assert new_token != identity_token
    assert app_services.sessions.identity(identity_token) is None
    me = client.get("/me").get_json()
    assert me["id"] == member["id"]
    assert [p["id"] for p in me["projects"]] == [tenant.default_project_id]
    shown = client.get(f"{API}/invitations/{issued['invitation']['id']}", headers=tenant.auth).get_json()
    assert shown["status"] == "accepted" and shown["accepted_member_id"] == member["id"]
    problem(_accept(client, issued["token"]), 410, "invitation-used")


def test_accept_needs_a_verified_identity_with_the_invited_email(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    issued = _invite(client, tenant)
    problem(_accept(client, issued["token"]), 401, "unauthenticated")
    _identity(client, app_services, verified=False)
    problem(_accept(client, issued["token"]), 403, "email-not-verified")
    _identity(client, app_services, email="someone.else@acme.test")
    body = problem(_accept(client, issued["token"]), 403, "invitation-email-mismatch")
    assert body["invited"] == "n***@acme.test"
    assert app_services.members.list(tenant.org_id)[1] == 1


def test_accept_with_unknown_token_or_bad_body(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    _identity(client, app_services)
    problem(_accept(client, "inv_forged"), 410, "invitation-invalid")
    problem(client.post(f"{API}/invitations/accept", json={}), 422, "validation-failed")


def test_expired_invitation_cannot_be_accepted(
    client: FlaskClient, app_services: Services, tenant: Tenant, clock
) -> None:  # type: ignore[no-untyped-def]
    issued = _invite(client, tenant)
    clock.advance(days=8)
    _identity(client, app_services)
    body = problem(_accept(client, issued["token"]), 410, "invitation-expired")
    assert "7 days" in body["detail"]
    listed = client.get(f"{API}/invitations?status=expired", headers=tenant.auth).get_json()
    assert [i["id"] for i in listed["items"]] == [issued["invitation"]["id"]]
    assert listed["items"][0]["status"] == "expired"
    assert client.get(f"{API}/invitations?status=pending", headers=tenant.auth).get_json()["total"] == 0


def test_resend_kills_the_old_link(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    issued = _invite(client, tenant)
    inv_id = issued["invitation"]["id"]
    resent = client.post(f"{API}/invitations/{inv_id}/resend", headers=tenant.auth)
    assert resent.status_code == 200
    fresh = resent.get_json()
    assert fresh["token"] != issued["token"] and fresh["invitation"]["send_count"] == 2
    _identity(client, app_services)
    problem(_accept(client, issued["token"]), 410, "invitation-invalid")
    assert _accept(client, fresh["token"]).status_code == 200


def test_revoke(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    issued = _invite(client, tenant)
    inv_id = issued["invitation"]["id"]
    revoked = client.post(f"{API}/invitations/{inv_id}/revoke", headers=tenant.auth)
    assert revoked.get_json()["status"] == "revoked"
    problem(client.post(f"{API}/invitations/{inv_id}/revoke", headers=tenant.auth), 410, "invitation-invalid")
    problem(client.post(f"{API}/invitations/{inv_id}/resend", headers=tenant.auth), 410, "invitation-invalid")
    _identity(client, app_services)
    problem(_accept(client, issued["token"]), 410, "invitation-revoked")


def test_accept_after_switch_to_sso_is_refused(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    issued = _invite(client, tenant)
    app_services.connections.add(tenant.org_id, m.ConnectionProtocol.OIDC, "Google", CLI)
    app_services.mode.apply(tenant.org_id, m.MembershipMode.SSO, CLI)
    _identity(client, app_services)
    problem(_accept(client, issued["token"]), 409, "mode-forbids")


def test_list_filters_and_pages(client: FlaskClient, tenant: Tenant) -> None:
    ids = [_invite(client, tenant, f"p{i}@acme.test")["invitation"]["id"] for i in range(3)]
    client.post(f"{API}/invitations/{ids[0]}/revoke", headers=tenant.auth)
    revoked = client.get(f"{API}/invitations?status=revoked", headers=tenant.auth).get_json()
    assert [i["id"] for i in revoked["items"]] == [ids[0]]
    pending = client.get(f"{API}/invitations?status=pending&per_page=1", headers=tenant.auth).get_json()
    assert pending["total"] == 2 and len(pending["items"]) == 1 and pending["links"]["next"]
    assert client.get(f"{API}/invitations", headers=tenant.auth).get_json()["total"] == 3
    problem(client.get(f"{API}/invitations/nope", headers=tenant.auth), 404, "not-found")
