"""SAML connections over the API: set up from metadata (XML or URL) or by hand, read back with the SP URLs
and the IdP certificates' fingerprints and expiry, certificate rotation, metadata re-import (issue 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import API, Tenant, add_member, problem, sign_in
from api_peers import Peer, closed_port, idp_cert, idp_metadata
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services

OKTA_ENTITY = "http://www.okta.com/exk8acme"
OKTA_SSO = "https://acme.okta.com/app/acme/exk8acme/sso/saml"


def _metadata(*names: str, entity_id: str = OKTA_ENTITY) -> str:
    return idp_metadata(entity_id, OKTA_SSO, *(idp_cert(n) for n in names))


def _create(client: FlaskClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    if "metadata_xml" not in body:
        body["metadata_xml"] = _metadata("okta-2026")
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post(f"{API}/connections/saml", json=body, headers=tenant.auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _nothing_written(client: FlaskClient, app_services: Services, tenant: Tenant) -> None:
    assert client.get(f"{API}/connections", headers=tenant.auth).get_json()["total"] == 0
    assert app_services.orgs.get(tenant.org_id).domains == []
    actions = [e.action for e in app_services.audit.list(tenant.org_id, limit=200)[0]]
    assert not [a for a in actions if a.startswith(("connection.", "domain."))]


def test_admin_adds_a_saml_connection_from_metadata_xml_and_reads_what_to_give_the_idp(
    client: FlaskClient, app_services: Services, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant("Acme", m.MembershipMode.SSO)
    created = _create(
        client, tenant, preset="okta", domains=["Acme.com"], allow_idp_initiated=True, admin_groups=["it"]
    )
    cert = idp_cert("okta-2026")
    assert created["protocol"] == "saml" and created["preset"] == "okta" and created["usable"] is True
    assert created["slug"] == "acme-okta-saml" and created["name"] == "Okta (SAML)"
    base = f"http://gateway.test/saml/{created['slug']}"
    assert created["sp"]["metadata_url"] == f"{base}/metadata"
    assert created["sp"]["acs_url"] == f"{base}/acs"
    assert created["sp"]["entity_id"] == f"{base}/metadata"
    assert [c["fingerprint_sha256"] for c in created["idp"]["certificates"]] == [cert.fingerprint]
    assert created["idp"]["certificates"][0]["not_valid_after"] == cert.not_after.isoformat()
    assert created["idp"]["certificates"][0]["expired"] is False
    assert created["idp"]["entity_id"] == OKTA_ENTITY and created["idp"]["sso_url"] == OKTA_SSO
    assert created["allow_idp_initiated"] is True and created["admin_groups"] == ["it"]
    assert created["attributes"]["email"] and created["setup_notes"]
    assert "PRIVATE KEY" not in str(created) and "key" not in created["sp"]["certificates"][0]

    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth)
    assert detail.status_code == 200
    assert {k: v for k, v in detail.get_json().items() if k != "setup_notes"} == {
        k: v for k, v in created.items() if k != "setup_notes"
    }
    assert client.get(f"{API}/org", headers=tenant.auth).get_json()["domains"] == [
        {"domain": "acme.com", "verified": False}  # claimed: a DNS record must prove it (rule 11)
    ]
    actions = [
        e["action"] for e in client.get(f"{API}/audit-events", headers=tenant.auth).get_json()["items"]
    ]
    assert "connection.created" in actions and "domain.claimed" in actions
    assert app_services.connections.by_slug("acme-okta-saml").org_id == tenant.org_id
    events = client.get(f"{API}/events?type=connection.created", headers=tenant.auth).get_json()["events"]
    assert [e["data"]["target"]["id"] for e in events] == [created["id"]]


def test_a_connection_in_invitation_mode_is_created_suspended(client: FlaskClient, tenant: Tenant) -> None:
    created = _create(client, tenant)
    assert created["suspended"] is True and created["usable"] is False


def test_metadata_from_a_url_and_idp_typed_in_by_hand(
    client: FlaskClient, tenant: Tenant, peer: Peer
) -> None:
    url = peer.serve(
        "/idp/jumpcloud.xml", _metadata("jc-1", entity_id="jumpcloud-acme"), content_type="text/xml"
    )
    from_url = _create(client, tenant, metadata_url=url, metadata_xml=None, preset="jumpcloud")
    assert from_url["idp"]["entity_id"] == "jumpcloud-acme"

    by_hand = client.post(
        f"{API}/connections/saml",
        json={
            "name": "Legacy IdP",
            "entity_id": "https://idp.acme.test/saml",
            "sso_url": "https://idp.acme.test/sso",
            "sso_binding": "post",
            "certificates": [idp_cert("legacy-a").pem, idp_cert("legacy-b").b64],
        },
        headers=tenant.auth,
    )
    assert by_hand.status_code == 201, by_hand.get_data(as_text=True)
    body = by_hand.get_json()
    assert body["slug"] == "acme-legacy-idp" and body["idp"]["sso_binding"] == "post"
    assert [c["fingerprint_sha256"] for c in body["idp"]["certificates"]] == [
        idp_cert("legacy-a").fingerprint,
        idp_cert("legacy-b").fingerprint,
    ]
    assert client.get(f"{API}/connections", headers=tenant.auth).get_json()["total"] == 2


def test_metadata_can_be_posted_as_the_xml_body_with_options_in_the_query(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    xml = {"data": _metadata("okta-2026").encode(), "headers": tenant.auth}
    created = client.post(
        f"{API}/connections/saml?preset=okta&domains=acme.com,acme.org&allow_idp_initiated=true",
        content_type="application/samlmetadata+xml",
        **xml,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["preset"] == "okta" and body["allow_idp_initiated"] is True
    assert body["idp"]["entity_id"] == OKTA_ENTITY
    assert sorted(d.domain for d in app_services.orgs.get(tenant.org_id).domains) == ["acme.com", "acme.org"]

    moved = idp_metadata("http://www.okta.com/moved", OKTA_SSO, idp_cert("okta-2027", days=730))
    url = f"{API}/connections/{body['id']}/idp"
    replaced = client.put(url, data=moved, content_type="text/xml", headers=tenant.auth)
    assert (
        replaced.status_code == 200 and replaced.get_json()["idp"]["entity_id"] == "http://www.okta.com/moved"
    )

    unknown = client.post(f"{API}/connections/saml?colour=red", content_type="application/xml", **xml)
    assert "colour" in problem(unknown, 422, "validation-failed")["errors"]
    mixed = client.post(
        f"{API}/connections/saml?metadata_url=https://idp.test/m", content_type="text/xml", **xml
    )
    problem(mixed, 422, "validation-failed")
    latin1 = client.put(
        url,
        data="<md:EntityDescriptor entityID='caf\xe9'/>".encode("latin-1"),
        content_type="text/xml",
        headers=tenant.auth,
    )
    problem(latin1, 400, "bad-request")
    problem(
        client.put(url, data=moved, content_type="text/plain", headers=tenant.auth),
        415,
        "unsupported-media-type",
    )
    assert client.get(f"{API}/connections", headers=tenant.auth).get_json()["total"] == 1
    assert (
        client.get(f"{API}/connections/{body['id']}", headers=tenant.auth).get_json()["idp"]["entity_id"]
        == "http://www.okta.com/moved"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "entity_id"),
        ({"metadata_xml": "<x/>", "metadata_url": "https://idp.test/m"}, "metadata_url"),
        ({"metadata_xml": "<x/>", "certificates": ["c"]}, "certificates"),
        ({"entity_id": "e", "sso_url": "https://idp.test/sso"}, "certificates"),
        ({"entity_id": "e", "sso_url": "https://idp.test/sso", "certificates": [], "x": 1}, "x"),
        ({"metadata_xml": "<x/>", "allow_idp_initiated": "sometimes"}, "allow_idp_initiated"),
        ({"metadata_xml": "<x/>", "domains": "acme.com"}, "domains"),
    ],
)
def test_malformed_bodies_are_422_and_write_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"{API}/connections/saml", json=body, headers=tenant.auth)
    assert field in problem(response, 422, "validation-failed")["errors"]
    _nothing_written(client, app_services, tenant)


def test_metadata_the_gateway_cannot_use_is_refused_and_writes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, peer: Peer
) -> None:
    doctype = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'
    no_cert = idp_metadata(OKTA_ENTITY, OKTA_SSO)
    missing = f"{peer.url}/idp/missing.xml"
    refused = [
        {"metadata_xml": "<md:EntityDescriptor"},
        {"metadata_xml": doctype},
        {"metadata_xml": no_cert},
        {"metadata_xml": _metadata("okta-2026"), "entity_id": "someone-else"},
        {"metadata_url": missing},
        {"metadata_url": f"http://127.0.0.1:{closed_port()}/m.xml"},
        {"metadata_url": "http://idp.example.com/metadata"},
        {"entity_id": "e", "sso_url": "ftp://idp.test/sso", "certificates": [idp_cert("okta-2026").pem]},
        {"entity_id": "e", "sso_url": "https://idp.test/sso", "certificates": ["not a certificate"]},
    ]
    for body in refused:
        response = client.post(f"{API}/connections/saml", json=body, headers=tenant.auth)
        assert problem(response, 422, "invalid-input")["errors"], body
    unknown_preset = client.post(
        f"{API}/connections/saml",
        json={"metadata_xml": _metadata("okta-2026"), "preset": "nope"},
        headers=tenant.auth,
    )
    assert "preset" in problem(unknown_preset, 422, "invalid-input")["errors"]
    _nothing_written(client, app_services, tenant)


def test_a_domain_of_another_organization_or_a_duplicate_slug_writes_nothing(
    client: FlaskClient, app_services: Services, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    make_tenant("Globex", domain="globex.com")
    body = {"metadata_xml": _metadata("okta-2026"), "domains": ["acme.com", "globex.com"]}
    response = client.post(f"{API}/connections/saml", json=body, headers=tenant.auth)
    problem(response, 409, "conflict")
    _nothing_written(client, app_services, tenant)

    _create(client, tenant, slug="acme-sso")
    again = client.post(
        f"{API}/connections/saml",
        json={"metadata_xml": _metadata("okta-2026"), "slug": "acme-sso", "domains": ["acme.com"]},
        headers=tenant.auth,
    )
    problem(again, 409, "conflict")
    assert client.get(f"{API}/connections", headers=tenant.auth).get_json()["total"] == 1
    assert app_services.orgs.get(tenant.org_id).domains == []


def test_idp_certificate_rotation_never_removes_the_last_one(client: FlaskClient, tenant: Tenant) -> None:
    old, new = idp_cert("okta-2026"), idp_cert("okta-2027", days=730)
    created = _create(client, tenant)
    url = f"{API}/connections/{created['id']}/idp-certificates"

    added = client.post(url, json={"certificate": new.pem}, headers=tenant.auth)
    assert added.status_code == 200
    assert [c["fingerprint_sha256"] for c in added.get_json()["idp"]["certificates"]] == [
        old.fingerprint,
        new.fingerprint,
    ]
    again = client.post(url, json={"certificate": new.b64}, headers=tenant.auth).get_json()
    assert len(again["idp"]["certificates"]) == 2
    problem(
        client.post(url, json={"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n"}, headers=tenant.auth),
        422,
        "invalid-input",
    )
    problem(client.post(url, json={}, headers=tenant.auth), 422, "validation-failed")

    colons = ":".join(old.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    removed = client.delete(f"{url}/{colons}", headers=tenant.auth)
    assert removed.status_code == 200
    assert [c["fingerprint_sha256"] for c in removed.get_json()["idp"]["certificates"]] == [new.fingerprint]
    problem(client.delete(f"{url}/{old.fingerprint}", headers=tenant.auth), 404, "not-found")
    last = problem(client.delete(f"{url}/{new.fingerprint}", headers=tenant.auth), 422, "invalid-input")
    assert "at least one" in last["detail"]
    detail = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert [c["fingerprint_sha256"] for c in detail["idp"]["certificates"]] == [new.fingerprint]
    actions = [
        e["action"]
        for e in client.get(f"{API}/audit-events?action=connection.saml.*", headers=tenant.auth).get_json()[
            "items"
        ]
    ]
    assert actions == [
        "connection.saml.certificate_removed",
        "connection.saml.certificate_added",
        "connection.saml.certificate_added",
    ]


def test_the_detail_flags_an_expired_idp_certificate(client: FlaskClient, tenant: Tenant, clock: Any) -> None:
    created = _create(client, tenant)
    url = f"{API}/connections/{created['id']}"
    clock.now = idp_cert("okta-2026").not_after
    [cert] = client.get(url, headers=tenant.auth).get_json()["idp"]["certificates"]
    assert cert["expired"] is True and cert["fingerprint_sha256"] == idp_cert("okta-2026").fingerprint
    assert created["idp"]["certificates"][0]["expired"] is False


def test_sp_keys_rotate_and_retire(client: FlaskClient, tenant: Tenant) -> None:
    created = _create(client, tenant)
    [first] = created["sp"]["certificates"]
    url = f"{API}/connections/{created['id']}/sp-keys"
    rotated = client.post(url, headers=tenant.auth).get_json()["sp"]["certificates"]
    assert len(rotated) == 2 and rotated[1] == first
    retired = client.delete(f"{url}/{first['fingerprint_sha256']}", headers=tenant.auth).get_json()
    assert retired["sp"]["certificates"] == rotated[:1]
    problem(client.delete(f"{url}/{first['fingerprint_sha256']}", headers=tenant.auth), 404, "not-found")
    assert "PRIVATE KEY" not in str(retired)


def test_reimporting_metadata_replaces_the_idp_settings(
    client: FlaskClient, tenant: Tenant, peer: Peer
) -> None:
    created = _create(client, tenant)
    url = f"{API}/connections/{created['id']}/idp"
    moved = idp_metadata(
        "http://www.okta.com/exk8moved", "https://acme.okta.com/moved", idp_cert("okta-2027", days=730)
    )
    replaced = client.put(
        url, json={"metadata_url": peer.serve("/idp/moved.xml", moved)}, headers=tenant.auth
    )
    assert replaced.status_code == 200
    idp = replaced.get_json()["idp"]
    assert (
        idp["entity_id"] == "http://www.okta.com/exk8moved"
        and idp["sso_url"] == "https://acme.okta.com/moved"
    )
    assert [c["fingerprint_sha256"] for c in idp["certificates"]] == [
        idp_cert("okta-2027", days=730).fingerprint
    ]
    problem(client.put(url, json={"metadata_xml": "<broken"}, headers=tenant.auth), 422, "invalid-input")
    problem(client.put(url, json={}, headers=tenant.auth), 422, "validation-failed")
    after = client.get(f"{API}/connections/{created['id']}", headers=tenant.auth).get_json()
    assert after["idp"] == idp


def test_patch_sets_idp_initiated_and_admin_groups(client: FlaskClient, tenant: Tenant) -> None:
    created = _create(client, tenant)
    url = f"{API}/connections/{created['id']}"
    patched = client.patch(
        url, json={"allow_idp_initiated": True, "admin_groups": ["ops", " it ", "ops"]}, headers=tenant.auth
    )
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["allow_idp_initiated"] is True and body["admin_groups"] == ["ops", "it"]
    assert client.patch(url, json={}, headers=tenant.auth).get_json()["admin_groups"] == ["ops", "it"]
    problem(
        client.patch(url, json={"allow_idp_initiated": "yes please"}, headers=tenant.auth),
        422,
        "validation-failed",
    )


def test_another_organizations_connection_is_404_everywhere(
    client: FlaskClient, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    theirs = _create(client, make_tenant("Globex"))
    base = f"{API}/connections/{theirs['id']}"
    cert = idp_cert("okta-2027", days=730)
    for response in (
        client.get(base, headers=tenant.auth),
        client.patch(base, json={"allow_idp_initiated": True}, headers=tenant.auth),
        client.put(f"{base}/idp", json={"metadata_xml": _metadata("okta-2027")}, headers=tenant.auth),
        client.post(f"{base}/idp-certificates", json={"certificate": cert.pem}, headers=tenant.auth),
        client.delete(f"{base}/idp-certificates/{idp_cert('okta-2026').fingerprint}", headers=tenant.auth),
        client.get(f"{API}/connections/nope", headers=tenant.auth),
    ):
        problem(response, 404, "not-found")


def test_certificate_endpoints_refuse_an_oidc_connection(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    oidc = app_services.connections.add(tenant.org_id, m.ConnectionProtocol.OIDC, "Google", m.Actor.cli())
    response = client.post(
        f"{API}/connections/{oidc.id}/idp-certificates",
        json={"certificate": idp_cert("okta-2026").pem},
        headers=tenant.auth,
    )
    assert "not a SAML connection" in problem(response, 422, "invalid-input")["detail"]
    patched = client.patch(
        f"{API}/connections/{oidc.id}", json={"allow_idp_initiated": True}, headers=tenant.auth
    )
    problem(patched, 422, "invalid-input")
    problem(client.post(f"{API}/connections/{oidc.id}/sp-keys", headers=tenant.auth), 422, "invalid-input")
    assert app_services.connections.list(tenant.org_id)[0].config == {}


def test_members_cannot_see_or_set_up_connections(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    created = _create(client, tenant)
    bea = add_member(app_services, tenant.org_id, "bea@acme.test")
    sign_in(client, app_services, bea)
    problem(client.get(f"{API}/connections/{created['id']}"), 403, "forbidden")
    problem(
        client.post(f"{API}/connections/saml", json={"metadata_xml": _metadata("okta-2026")}),
        403,
        "forbidden",
    )
    problem(
        client.post(f"{API}/connections/{created['id']}/idp-certificates", json={"certificate": "x"}),
        403,
        "forbidden",
    )
    assert len(app_services.connections.list(tenant.org_id)) == 1


PRIVATE_ADDRESSES = [
    ("internal.test", "10.0.0.5"),
    ("metadata.test", "169.254.169.254"),
    ("mapped.test", "::ffff:127.0.0.1"),
]


@pytest.mark.parametrize(("host", "address"), PRIVATE_ADDRESSES)
def test_in_production_a_metadata_url_on_a_private_address_is_never_fetched(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    address: str,
) -> None:
    requested: list[str] = []
    saml = app_services.saml_connections
    monkeypatch.setattr(saml, "allow_private_targets", False)
    monkeypatch.setattr(saml, "resolver", lambda name, port: [address])
    monkeypatch.setattr(saml, "get", lambda url, **kwargs: requested.append(url))
    response = client.post(
        f"{API}/connections/saml", json={"metadata_url": f"https://{host}/metadata"}, headers=tenant.auth
    )
    errors = problem(response, 422, "invalid-input")["errors"]
    assert address in str(errors["metadata_url"]) and "private or reserved" in str(errors["metadata_url"])
    assert requested == []
    _nothing_written(client, app_services, tenant)
