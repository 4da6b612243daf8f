"""A connection's life after setup over the API (issue 13): edit, delete with a preview (members keep their
accounts), the cutover guard on the last enabled connection in SSO mode, OIDC client secret rotation, and
SAML metadata refreshed from its URL by hand and on the worker's schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api_helpers import API, CLI, Tenant, add_member, problem, sign_in
from api_peers import Peer, idp_cert, idp_metadata
from flask import Flask
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.outbox import build_worker
from gateway.services import Services
from gateway.services.saml_connections import IdpDescriptor
from tests.conftest import FakeClock

ENTITY = "http://www.okta.com/exk8acme"
SSO = "https://acme.okta.com/app/acme/exk8acme/sso/saml"


def _metadata(*names: str, entity_id: str = ENTITY, sso: str = SSO) -> str:
    return idp_metadata(entity_id, sso, *(idp_cert(n) for n in names))


def _saml(client: FlaskClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    if "metadata_url" not in body:
        body.setdefault("metadata_xml", _metadata("okta-2026"))
    response = client.post(f"{API}/connections/saml", json=body, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _fingerprints(detail: dict[str, Any]) -> list[str]:
    return [c["fingerprint_sha256"] for c in detail["idp"]["certificates"]]


def _actions(services: Services, org_id: str) -> list[str]:
    return [e.action for e in services.audit.list(org_id, limit=200)[0]]


def _event_types(client: FlaskClient, tenant: Tenant) -> list[str]:
    return [e["type"] for e in client.get(f"{API}/events", headers=tenant.auth).get_json()["events"]]


# -- editing ------------------------------------------------------------------------------------------------
def test_admin_edits_a_saml_connection_in_one_audited_change(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    created = _saml(client, tenant)
    url = f"{API}/connections/{created['id']}"
    body = {
        "name": "Okta production",
        "domains": ["Acme.com", "acme.io"],
        "admin_groups": ["it-admins", " it-admins "],
        "attributes": {"email": "mail", "groups": "memberOf"},
        "allow_idp_initiated": True,
    }
    edited = client.patch(url, json=body, headers=tenant.auth)
    assert edited.status_code == 200, edited.get_data(as_text=True)
    detail = edited.get_json()
    assert detail["name"] == "Okta production" and detail["domains"] == ["acme.com", "acme.io"]
    assert detail["admin_groups"] == ["it-admins"] and detail["allow_idp_initiated"] is True
    assert detail["attributes"]["email"] == "mail" and detail["attributes"]["groups"] == "memberOf"
    assert detail["attributes"]["first_name"] == created["attributes"]["first_name"]
    assert _fingerprints(detail) == _fingerprints(created)  # the SAML settings were kept
    org_domains = client.get(f"{API}/org", headers=tenant.auth).get_json()["domains"]
    assert sorted(d["domain"] for d in org_domains) == ["acme.com", "acme.io"]
    updates = app_services.audit.list(tenant.org_id, action="connection.updated")[0]
    assert len(updates) == 1 and set(updates[0].details["changed"]) == set(body)
    assert "connection.updated" in _event_types(client, tenant)

    again = client.patch(url, json=body, headers=tenant.auth)
    assert again.status_code == 200
    assert len(app_services.audit.list(tenant.org_id, action="connection.updated")[0]) == 1


def test_an_edit_with_a_bad_field_changes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    make_tenant("Globex", domain="globex.com")
    created = _saml(client, tenant)
    url = f"{API}/connections/{created['id']}"
    unknown = client.patch(url, json={"name": "New", "attributes": {"shoe_size": "x"}}, headers=tenant.auth)
    assert "shoe_size" in problem(unknown, 422, "invalid-input")["detail"]
    taken = client.patch(url, json={"name": "New", "domains": ["globex.com"]}, headers=tenant.auth)
    assert "another organization" in problem(taken, 409, "conflict")["detail"]
    problem(client.patch(url, json={"name": ""}, headers=tenant.auth), 422, "validation-failed")
    problem(client.patch(url, json={"domains": ["not a domain"]}, headers=tenant.auth), 422, "invalid-input")
    after = client.get(url, headers=tenant.auth).get_json()
    assert after["name"] == created["name"] and after["domains"] == []
    assert "connection.updated" not in _actions(app_services, tenant.org_id)


def test_an_oidc_connection_edits_its_claims_but_has_no_idp_initiated_switch(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    issuer = peer.openid_provider("lifecycle-oidc")
    body = {"issuer": issuer, "client_id": "gw", "client_secret": "s3cret", "preset": "okta"}
    created = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth).get_json()
    url = f"{API}/connections/{created['id']}"
    edited = client.patch(
        url, json={"attributes": {"groups": "roles"}, "admin_groups": ["admins"]}, headers=tenant.auth
    )
    assert edited.status_code == 200
    assert edited.get_json()["claims"]["groups"] == "roles" and edited.get_json()["admin_groups"] == [
        "admins"
    ]
    refused = client.patch(url, json={"allow_idp_initiated": True}, headers=tenant.auth)
    assert "SAML setting" in problem(refused, 422, "invalid-input")["detail"]
    problem(
        client.patch(url, json={"attributes": {"first_name": "x"}}, headers=tenant.auth), 422, "invalid-input"
    )


def test_members_cannot_edit_or_delete_connections(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    created = _saml(client, tenant)
    sign_in(client, app_services, add_member(app_services, tenant.org_id, "bea@acme.test"))
    url = f"{API}/connections/{created['id']}"
    problem(client.patch(url, json={"name": "Mine"}), 403, "forbidden")
    problem(client.delete(url), 403, "forbidden")
    problem(client.get(f"{url}/deletion-preview"), 403, "forbidden")


def test_another_organizations_connection_cannot_be_edited_or_deleted(
    client: FlaskClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    theirs = _saml(client, make_tenant("Globex"))
    url = f"{API}/connections/{theirs['id']}"
    for response in (
        client.patch(url, json={"name": "Mine"}, headers=tenant.auth),
        client.delete(url, headers=tenant.auth),
        client.get(f"{url}/deletion-preview", headers=tenant.auth),
        client.post(f"{url}/metadata-refresh", headers=tenant.auth),
    ):
        problem(response, 404, "not-found")


# -- deleting -----------------------------------------------------------------------------------------------
def _saml_session(services: Services, member: m.Member, connection_id: str) -> str:
    _, token = services.sessions.start(
        member.org_id, member.id, CLI, saml={"connection": connection_id, "name_id": member.email}
    )
    return token


def test_deleting_a_connection_previews_then_ends_its_sessions_and_keeps_the_members(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    created = _saml(client, tenant)
    other = _saml(client, tenant, slug="second-okta", name="Second")
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    through_it = _saml_session(app_services, bea, created["id"])
    through_other = _saml_session(app_services, bea, other["id"])
    url = f"{API}/connections/{created['id']}"

    preview = client.get(f"{url}/deletion-preview", headers=tenant.auth).get_json()
    assert preview["deleted"] is False and preview["sessions_ended"] == 1
    assert preview["members_kept"] == 2 and preview["last_enabled_connection"] is False
    assert any("keep their accounts" in e for e in preview["effects"])
    assert client.get(url, headers=tenant.auth).status_code == 200

    deleted = client.delete(url, headers=tenant.auth)
    assert deleted.status_code == 200 and deleted.get_json()["deleted"] is True
    problem(client.get(url, headers=tenant.auth), 404, "not-found")
    assert app_services.sessions.resolve(through_it) is None
    assert app_services.sessions.resolve(through_other) is not None
    members = client.get(f"{API}/members", headers=tenant.auth).get_json()
    assert {m_["email"] for m_ in members["items"]} >= {"bea@acme.test", tenant.admin.email}
    audit = app_services.audit.list(tenant.org_id, action="connection.deleted")[0]
    assert audit[0].details["slug"] == created["slug"] and audit[0].details["sessions_ended"] == 1
    events = client.get(f"{API}/events", headers=tenant.auth).get_json()["events"]
    revoked = [e for e in events if e["type"] == "connection.revoked"]
    assert revoked and revoked[-1]["data"]["connection"]["id"] == created["id"]
    problem(client.delete(url, headers=tenant.auth), 404, "not-found")


# -- cutover safety -----------------------------------------------------------------------------------------
def test_the_last_enabled_connection_in_sso_mode_needs_an_override(
    client: FlaskClient, app_services: Services, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant("Acme")
    only = _saml(client, tenant)
    switched = client.post(f"{API}/mode", json={"mode": "sso"}, headers=tenant.auth)
    assert switched.status_code == 200, switched.get_data(as_text=True)
    url = f"{API}/connections/{only['id']}"

    refused = problem(client.post(f"{url}/disable", headers=tenant.auth), 409, "last-connection")
    assert "nobody can sign in" in refused["detail"]
    problem(client.delete(url, headers=tenant.auth), 409, "last-connection")
    preview = client.get(f"{url}/deletion-preview", headers=tenant.auth).get_json()
    assert preview["last_enabled_connection"] is True
    assert client.get(url, headers=tenant.auth).get_json()["enabled"] is True

    second = _saml(client, tenant, slug="acme-backup", name="Backup")
    assert client.post(f"{url}/disable", headers=tenant.auth).get_json()["enabled"] is False
    problem(
        client.post(f"{API}/connections/{second['id']}/disable", headers=tenant.auth), 409, "last-connection"
    )
    forced = client.post(f"{API}/connections/{second['id']}/disable?override=true", headers=tenant.auth)
    assert forced.status_code == 200 and forced.get_json()["enabled"] is False
    assert client.delete(f"{url}?override=true", headers=tenant.auth).status_code == 200


def test_in_invitation_mode_the_last_connection_can_go(client: FlaskClient, tenant: Tenant) -> None:
    only = _saml(client, tenant)
    assert client.post(f"{API}/connections/{only['id']}/disable", headers=tenant.auth).status_code == 200
    assert client.delete(f"{API}/connections/{only['id']}", headers=tenant.auth).status_code == 200


# -- OIDC client secrets ------------------------------------------------------------------------------------
def test_rotating_the_client_secret_keeps_the_old_one_until_dropped(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    issuer = peer.openid_provider("rotation-oidc")
    body = {"issuer": issuer, "client_id": "gw", "client_secret": "first-secret-value"}
    created = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth).get_json()
    url = f"{API}/connections/{created['id']}"
    rotated = client.post(
        f"{url}/client-secret", json={"client_secret": "second-secret-value"}, headers=tenant.auth
    )
    assert rotated.status_code == 200
    assert rotated.get_json()["previous_secret_kept"] is True
    assert rotated.get_json()["secret_rotated_at"]
    settings = app_services.oidc_connections.client_settings(  # type: ignore[attr-defined]
        app_services.connections.by_slug(created["slug"])
    )
    assert (settings.client_secret, settings.previous_client_secret) == (
        "second-secret-value",
        "first-secret-value",
    )
    for answer in (rotated, client.get(f"{API}/audit-events", headers=tenant.auth)):
        assert "first-secret-value" not in answer.get_data(as_text=True)
        assert "second-secret-value" not in answer.get_data(as_text=True)
    assert "connection.oidc.secret_rotated" in _actions(app_services, tenant.org_id)

    dropped = client.delete(f"{url}/previous-client-secret", headers=tenant.auth)
    assert dropped.status_code == 200 and dropped.get_json()["previous_secret_kept"] is False
    problem(client.post(f"{url}/client-secret", json={}, headers=tenant.auth), 422, "validation-failed")
    saml = _saml(client, tenant)
    problem(
        client.post(
            f"{API}/connections/{saml['id']}/client-secret", json={"client_secret": "x"}, headers=tenant.auth
        ),
        422,
        "invalid-input",
    )


# -- SAML metadata refresh ----------------------------------------------------------------------------------
def test_refreshing_metadata_adopts_a_new_certificate_while_the_old_is_listed(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    path = f"/idp/{tenant.slug}-refresh.xml"
    created = _saml(
        client, tenant, metadata_url=peer.serve(path, _metadata("okta-2026"), content_type="text/xml")
    )
    assert created["metadata_url"].endswith(path)
    old, new = idp_cert("okta-2026").fingerprint, idp_cert("okta-2027", days=730).fingerprint
    url = f"{API}/connections/{created['id']}/metadata-refresh"

    unchanged = client.post(url, headers=tenant.auth).get_json()["refresh"]
    assert unchanged["ok"] is True and unchanged["changed"] is False
    assert "connection.saml.metadata_refreshed" not in _actions(app_services, tenant.org_id)

    both = idp_metadata(ENTITY, SSO, idp_cert("okta-2026"), idp_cert("okta-2027", days=730))
    peer.serve(path, both, content_type="text/xml")
    adopted = client.post(url, headers=tenant.auth).get_json()["refresh"]
    assert adopted["added"] == [new] and adopted["removed"] == []
    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert _fingerprints(detail) == [old, new] and detail["metadata_refresh"]["ok"] is True

    peer.serve(path, idp_metadata(ENTITY, SSO, idp_cert("okta-2027", days=730)), content_type="text/xml")
    retired = client.post(url, headers=tenant.auth).get_json()["refresh"]
    assert retired["removed"] == [old]
    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert _fingerprints(detail) == [new]
    assert len(app_services.audit.list(tenant.org_id, action="connection.saml.metadata_refreshed")[0]) == 2


def test_a_refresh_that_fails_is_recorded_and_changes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    path = f"/idp/{tenant.slug}-failing.xml"
    created = _saml(
        client, tenant, metadata_url=peer.serve(path, _metadata("okta-2026"), content_type="text/xml")
    )
    url = f"{API}/connections/{created['id']}/metadata-refresh"
    peer.serve(path, _metadata("okta-2027", entity_id="http://evil.example/idp"), content_type="text/xml")
    refused = problem(client.post(url, headers=tenant.auth), 422, "invalid-input")
    assert "nothing was changed" in refused["detail"]
    peer.serve(path, "gone", status=404, content_type="text/plain")
    assert "404" in problem(client.post(url, headers=tenant.auth), 422, "invalid-input")["detail"]
    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert _fingerprints(detail) == _fingerprints(created)
    assert detail["metadata_refresh"]["ok"] is False and "404" in detail["metadata_refresh"]["error"]

    typed = _saml(client, tenant, slug="typed-in")
    no_url = problem(
        client.post(f"{API}/connections/{typed['id']}/metadata-refresh", headers=tenant.auth),
        422,
        "invalid-input",
    )
    assert "no metadata URL" in no_url["detail"]
    set_url = client.patch(
        f"{API}/connections/{typed['id']}", json={"metadata_url": peer.url + path}, headers=tenant.auth
    )
    assert set_url.get_json()["metadata_url"] == peer.url + path


def test_the_worker_refreshes_metadata_on_its_schedule(
    app: Flask, client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer, clock: FakeClock
) -> None:
    path = f"/idp/{tenant.slug}-scheduled.xml"
    created = _saml(
        client, tenant, metadata_url=peer.serve(path, _metadata("okta-2026"), content_type="text/xml")
    )
    both = idp_metadata(ENTITY, SSO, idp_cert("okta-2026"), idp_cert("okta-2027", days=730))
    peer.serve(path, both, content_type="text/xml")
    worker = build_worker(app)
    worker.drain()
    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert len(_fingerprints(detail)) == 2
    audit = app_services.audit.list(tenant.org_id, action="connection.saml.metadata_refreshed")[0]
    assert audit[0].actor_type is m.ActorType.SYSTEM

    peer.serve(path, idp_metadata(ENTITY, SSO, idp_cert("okta-2027", days=730)), content_type="text/xml")
    clock.advance(hours=1)
    worker.drain()  # not due yet: refreshed an hour ago, every 24 hours
    assert (
        len(_fingerprints(client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()))
        == 2
    )
    clock.advance(hours=24)
    worker.drain()
    assert (
        len(_fingerprints(client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()))
        == 1
    )


def test_a_typed_in_connection_is_never_refreshed_by_the_schedule(
    app_services: Services, tenant: Tenant
) -> None:
    idp = IdpDescriptor(entity_id=ENTITY, sso_url=SSO, certs=(idp_cert("okta-2026").pem,))
    app_services.saml_connections.create(tenant.org_id, "Typed", idp, CLI)
    assert app_services.saml_metadata.due(timedelta(0)) == []


def test_login_sends_an_email_to_the_connection_serving_its_domain(
    client: FlaskClient, app_services: Services, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant("Acme", m.MembershipMode.INVITATION, "acme.com")
    labs = _saml(client, tenant, slug="acme-labs", name="Labs", domains=["labs.acme.com"])
    main = _saml(client, tenant, slug="acme-main", name="Main")
    client.patch(f"{API}/connections/{labs['id']}", json={"domains": ["labs.acme.com"]}, headers=tenant.auth)
    app_services.domains.verify_by_operator(
        tenant.org_id, "labs.acme.com", CLI
    )  # (rule 11: only proven ones route)
    assert client.post(f"{API}/mode", json={"mode": "sso"}, headers=tenant.auth).status_code == 200
    to_labs = client.post("/login", data={"email": "ada@labs.acme.com"})
    assert to_labs.status_code == 303, to_labs.get_data(as_text=True)[-1500:]
    assert "/saml/acme-labs/login" in to_labs.headers["Location"]
    to_main = client.post("/login", data={"email": "bob@acme.com"})
    assert to_main.status_code == 303 and f"/saml/{main['slug']}/login" in to_main.headers["Location"]


def test_switching_to_sso_warns_until_a_connection_passed_a_test_sign_in(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    created = _saml(client, tenant)
    preview = client.post(f"{API}/mode/preview", json={"mode": "sso"}, headers=tenant.auth).get_json()
    assert (
        preview["allowed"] is True
        and "No enabled connection has had a successful test" in preview["warnings"][0]
    )

    connection = app_services.connections.by_slug(created["slug"])
    assert connection is not None
    tests = app_services.sign_in_tests
    failing = tests.predict(connection, "ghost@elsewhere.test", None)
    tests.record(connection, CLI, received=None, outcome=failing)
    preview = client.post(f"{API}/mode/preview", json={"mode": "sso"}, headers=tenant.auth).get_json()
    assert preview["warnings"]  # a failed test does not count

    tests.record(connection, CLI, received=None, outcome={"action": "create", "role": "member", "why": "."})
    preview = client.post(f"{API}/mode/preview", json={"mode": "sso"}, headers=tenant.auth).get_json()
    assert preview["warnings"] == []
