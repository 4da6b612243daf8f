"""OIDC connections over the API (issue 5): the issuer is discovered on a loopback provider, the client secret is
never returned, and a provider the gateway cannot use is a problem naming why, with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import API, Tenant, add_member, problem, sign_in
from api_peers import Peer, closed_port
from flask import Flask
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services

SECRET = "very-secret-client-secret"


def _body(issuer: str, **extra: Any) -> dict[str, Any]:
    return {"issuer": issuer, "client_id": "gateway-client", "client_secret": SECRET, **extra}


def _nothing_written(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    assert client.get(f"{API}/connections", headers=tenant.auth).get_json()["total"] == 0
    assert app_services.orgs.get(tenant.org_id).domains == []


def test_admin_adds_an_oidc_connection_and_the_secret_is_never_shown(
    client: FlaskClient, app_services: Services, make_tenant: Callable[..., Tenant], peer: Peer
) -> None:
    tenant = make_tenant("Acme", m.MembershipMode.SSO)
    issuer = peer.openid_provider("okta-acme")
    body = _body(issuer, preset="okta", domains=["acme.com"], admin_groups=["it-admins"])
    response = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["protocol"] == "oidc" and created["preset"] == "okta" and created["usable"] is True
    assert created["issuer"] == issuer and created["client_id"] == "gateway-client"
    assert created["redirect_uri"] == f"http://gateway.test/oidc/{created['slug']}/callback"
    assert created["admin_groups"] == ["it-admins"] and "openid" in created["scopes"]
    assert created["setup_notes"]

    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth)
    listed = client.get(f"{API}/connections", headers=tenant.auth)
    audit = client.get(f"{API}/audit-events", headers=tenant.auth)
    events = client.get(f"{API}/events", headers=tenant.auth)
    for answer in (response, detail, listed, audit, events):
        assert SECRET not in answer.get_data(as_text=True)
        assert "client_secret" not in answer.get_data(as_text=True)
    assert detail.get_json()["redirect_uri"] == created["redirect_uri"]
    assert [d["domain"] for d in client.get(f"{API}/org", headers=tenant.auth).get_json()["domains"]] == [
        "acme.com"
    ]
    stored = app_services.connections.by_slug(created["slug"])
    assert stored is not None and SECRET not in str(stored.config)


def test_adding_an_oidc_connection_is_published_as_an_event(
    client: FlaskClient, tenant: Tenant, peer: Peer
) -> None:
    issuer = peer.openid_provider("published")
    assert client.post(f"{API}/connections/oidc", json=_body(issuer), headers=tenant.auth).status_code == 201
    events = client.get(f"{API}/events?type=connection.created", headers=tenant.auth).get_json()["events"]
    assert [e["data"]["details"]["protocol"] for e in events] == ["oidc"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client_secret": None}, "client_secret"),
        ({"client_id": ""}, "client_id"),
        ({"issuer": None}, "issuer"),
        ({"domains": "acme.com"}, "domains"),
        ({"scopes": ["openid"]}, "scopes"),
    ],
)
def test_malformed_bodies_are_422_and_write_nothing(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    peer: Peer,
    change: dict[str, Any],
    field: str,
) -> None:
    body = {k: v for k, v in {**_body(peer.openid_provider("fine")), **change}.items() if v is not None}
    response = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth)
    errors = problem(response, 422, "validation-failed")["errors"]
    assert field in errors and SECRET not in response.get_data(as_text=True)
    _nothing_written(client, app_services, tenant)


def test_a_provider_the_gateway_cannot_use_is_a_problem_naming_why(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    liar = peer.openid_provider("liar", claimed_issuer="https://evil.example.com")
    bad = problem(
        client.post(f"{API}/connections/oidc", json=_body(liar), headers=tenant.auth), 422, "bad-issuer"
    )
    assert "evil.example.com" in bad["detail"] and bad["title"] == "Issuer mismatch"

    down = f"http://127.0.0.1:{closed_port()}"
    unreachable = client.post(f"{API}/connections/oidc", json=_body(down), headers=tenant.auth)
    problem(unreachable, 502, "provider-unreachable")

    peer.serve("/broken/.well-known/openid-configuration", "not json")
    problem(
        client.post(f"{API}/connections/oidc", json=_body(f"{peer.url}/broken"), headers=tenant.auth),
        502,
        "provider-error",
    )
    for body, field in (
        (_body("not a url"), "issuer"),
        (_body(peer.openid_provider("fine"), preset="nope"), "preset"),
        (_body(peer.openid_provider("fine"), domains=["not a domain"]), "domain"),
    ):
        response = client.post(f"{API}/connections/oidc", json=body, headers=tenant.auth)
        assert field in problem(response, 422, "invalid-input")["errors"]
    _nothing_written(client, app_services, tenant)


def test_a_duplicate_slug_or_another_organizations_domain_is_409(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    make_tenant: Callable[..., Tenant],
    peer: Peer,
) -> None:
    make_tenant("Globex", domain="globex.com")
    issuer = peer.openid_provider("acme-idp")
    theirs = client.post(
        f"{API}/connections/oidc", json=_body(issuer, domains=["globex.com"]), headers=tenant.auth
    )
    problem(theirs, 409, "conflict")
    _nothing_written(client, app_services, tenant)
    assert client.post(f"{API}/connections/oidc", json=_body(issuer), headers=tenant.auth).status_code == 201
    problem(client.post(f"{API}/connections/oidc", json=_body(issuer), headers=tenant.auth), 409, "conflict")
    named = client.post(
        f"{API}/connections/oidc", json=_body(issuer, slug="acme-second"), headers=tenant.auth
    )
    assert named.status_code == 201 and named.get_json()["slug"] == "acme-second"


def test_only_admins_add_oidc_connections(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, bea)
    response = client.post(f"{API}/connections/oidc", json=_body(peer.openid_provider("fine")))
    problem(response, 403, "forbidden")
    assert app_services.connections.list(tenant.org_id) == []


PRIVATE_ADDRESSES = [
    ("internal.test", "10.0.0.5"),
    ("metadata.test", "169.254.169.254"),
    ("mapped.test", "::ffff:127.0.0.1"),
]


@pytest.mark.parametrize(("host", "address"), PRIVATE_ADDRESSES)
def test_in_production_an_issuer_on_a_private_address_is_never_fetched(
    app: Flask,
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    address: str,
) -> None:
    requested: list[str] = []
    runtime = app.extensions["gateway.oidc"]
    monkeypatch.setattr(runtime.outbound, "allow_private", False)
    monkeypatch.setattr(runtime.outbound, "resolver", lambda name, port: [address])
    monkeypatch.setattr(runtime.connections, "fetch", lambda url: requested.append(url) or {})
    response = client.post(f"{API}/connections/oidc", json=_body(f"https://{host}"), headers=tenant.auth)
    errors = problem(response, 422, "invalid-input")["errors"]
    assert address in str(errors["issuer"]) and "private or reserved" in str(errors["issuer"])
    assert requested == []
    _nothing_written(client, app_services, tenant)


def test_in_production_a_discovered_jwks_uri_on_a_private_address_is_never_fetched(
    app: Flask, client: FlaskClient, app_services: Services, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = {"idp.example.com": ["93.184.216.34"], "internal.test": ["10.0.0.5"]}
    issuer = "https://idp.example.com"
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": "https://internal.test/keys",
    }
    requested: list[str] = []
    runtime = app.extensions["gateway.oidc"]
    monkeypatch.setattr(runtime.outbound, "allow_private", False)
    monkeypatch.setattr(runtime.outbound, "resolver", lambda name, port: addresses.get(name, []))
    monkeypatch.setattr(runtime.connections, "fetch", lambda url: requested.append(url) or dict(document))
    response = client.post(f"{API}/connections/oidc", json=_body(issuer), headers=tenant.auth)
    assert "jwks_uri" in problem(response, 422, "invalid-input")["errors"]
    assert requested == [f"{issuer}/.well-known/openid-configuration"]
    _nothing_written(client, app_services, tenant)
