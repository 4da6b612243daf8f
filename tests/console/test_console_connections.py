"""SSO connections in the console: vendor guides, SAML setup from metadata or fields, certificates, state."""

from __future__ import annotations

import io

import pytest
from console_helpers import CLI, Org, csrf, field_error, idp_metadata, pem_certificate, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.domain.errors import EmailBlocked
from gateway.services import Services
from gateway.services.saml_connections import (
    SamlConfig,
    cert_fingerprint,
    normalize_cert,
    parse_idp_metadata,
)

SETUP = "/admin/connections/new/saml?preset=okta"


def _saml(services: Services, org: Org) -> m.SsoConnection:
    (connection,) = [c for c in services.connections.list(org.id) if c.protocol is m.ConnectionProtocol.SAML]
    return connection


def test_each_vendor_guide_shows_the_values_to_paste(admin_client: FlaskClient) -> None:
    for preset, vendor in (("okta", "Okta"), ("google", "Google Workspace"), ("entra", "Microsoft Entra ID"),
                           ("jumpcloud", "JumpCloud"), ("generic", "Generic SAML")):  # fmt: skip
        words = text_of(admin_client.get(f"/admin/connections/new/saml?preset={preset}"))
        assert vendor in words
        slug = f"acme-{preset}"
        assert f"ACS URL (single sign-on URL) http://gateway.test/saml/{slug}/acs" in words
        assert f"Entity ID (audience URI) http://gateway.test/saml/{slug}/metadata" in words
    oidc = text_of(admin_client.get("/admin/connections/new/oidc?preset=okta"))
    assert "Redirect URI http://gateway.test/oidc/acme-okta-oidc/callback" in oidc


def test_the_guide_follows_the_chosen_connection_id(admin_client: FlaskClient) -> None:
    words = text_of(admin_client.get(SETUP + "&slug=Acme Okta Prod"))
    assert "http://gateway.test/saml/acme-okta-prod/acs" in words


def test_setting_up_a_saml_connection_from_an_uploaded_metadata_file(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    data = {
        "csrf_token": csrf(admin_client, SETUP),
        "preset": "okta",
        "name": "Okta",
        "slug": "acme-okta",
        "metadata_file": (io.BytesIO(idp_metadata().encode()), "okta.xml"),
    }
    response = admin_client.post("/admin/connections/new/saml", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, text_of(response)
    connection = _saml(app_services, acme)
    assert (connection.slug, connection.preset, connection.suspended) == ("acme-okta", "okta", True)
    config = SamlConfig.from_dict(connection.config)
    assert config.idp_entity_id == "http://www.okta.com/exk1"
    page = text_of(admin_client.get(response.headers["Location"]))
    assert "The SAML connection Okta is set up" in page
    assert "suspended (invitation mode)" in page
    assert "http://www.okta.com/exk1" in page and cert_fingerprint(config.idp_certs[0]) in page


def test_setting_up_from_pasted_xml_and_from_typed_fields(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    token = csrf(client, SETUP)
    pasted = client.post("/admin/connections/new/saml", data={
        "csrf_token": token, "preset": "generic", "name": "Pasted", "slug": "pasted", "metadata_xml": idp_metadata(),
    })  # fmt: skip
    assert pasted.status_code == 303
    typed = client.post("/admin/connections/new/saml", data={
        "csrf_token": token, "preset": "entra", "name": "Typed", "slug": "typed", "entity_id": "https://sts.example/x",
        "sso_url": "https://login.example/saml2", "certificate": pem_certificate(),
    })  # fmt: skip
    assert typed.status_code == 303
    slugs = {c.slug: c for c in app_services.connections.list(globex.id)}
    assert slugs["typed"].is_usable and slugs["typed"].preset == "entra"
    assert SamlConfig.from_dict(slugs["typed"].config).idp_sso_url == "https://login.example/saml2"


def test_bad_metadata_is_shown_next_to_the_field_it_came_from(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    token = csrf(admin_client, SETUP)
    base = {"csrf_token": token, "preset": "okta", "name": "Okta"}
    broken = admin_client.post("/admin/connections/new/saml", data={**base, "metadata_xml": "<md:Entity"})
    assert broken.status_code == 400
    assert "not well-formed XML" in (field_error(broken, "metadata_xml") or "")
    assert "&lt;md:Entity" in broken.get_data(as_text=True)  # what was typed is kept
    nothing = admin_client.post("/admin/connections/new/saml", data=base)
    assert "Give the identity provider's metadata" in (field_error(nothing, "metadata_file") or "")
    bad_cert = admin_client.post("/admin/connections/new/saml", data={
        **base, "entity_id": "e", "sso_url": "https://idp.example/sso", "certificate": "hello",
    })  # fmt: skip
    assert "not an X.509 certificate" in (field_error(bad_cert, "certificate") or "")
    no_url = admin_client.post("/admin/connections/new/saml", data={
        **base, "entity_id": "e", "sso_url": "ftp://idp", "certificate": pem_certificate(),
    })  # fmt: skip
    assert "absolute http(s) URL" in (field_error(no_url, "sso_url") or "")
    no_name = admin_client.post(
        "/admin/connections/new/saml", data={**base, "name": "", "metadata_xml": idp_metadata()}
    )
    assert "needs a name" in (field_error(no_name, "name") or "")
    assert app_services.connections.list(acme.id) == []


def test_a_metadata_url_that_is_not_https_is_refused(admin_client: FlaskClient) -> None:
    response = admin_client.post("/admin/connections/new/saml", data={
        "csrf_token": csrf(admin_client, SETUP), "preset": "okta", "name": "Okta",
        "metadata_url": "http://idp.example/metadata",
    })  # fmt: skip
    assert "must use https" in (field_error(response, "metadata_url") or "")


def test_disable_and_enable(client: FlaskClient, app_services: Services, globex: Org) -> None:
    sign_in(client, app_services, globex.id, globex.admin.id)
    connection = app_services.connections.list(globex.id)[0]
    # A second connection, so disabling the first does not lock the SSO-mode organization out.
    app_services.connections.add(globex.id, m.ConnectionProtocol.SAML, "Backup", CLI)
    token = csrf(client, "/admin/connections")
    response = client.post(
        f"/admin/connections/{connection.id}/enabled", data={"csrf_token": token, "enabled": "0"}
    )
    assert response.status_code == 303
    assert "Okta is disabled" in text_of(client.get(response.headers["Location"]))
    assert not app_services.connections.by_slug(connection.slug).enabled  # type: ignore[union-attr]
    client.post(f"/admin/connections/{connection.id}/enabled", data={"csrf_token": token, "enabled": "1"})
    assert app_services.connections.by_slug(connection.slug).enabled  # type: ignore[union-attr]


def test_certificate_rotation_adds_before_removing_and_keeps_the_last(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    saml = app_services.saml_connections
    connection = saml.create(acme.id, "Okta", parse_idp_metadata(idp_metadata().encode()), CLI, preset="okta")
    old = SamlConfig.from_dict(connection.config).idp_certs[0]
    page = f"/admin/connections/{connection.id}"
    new_pem = pem_certificate()
    response = admin_client.post(f"{page}/certificates", data={"csrf_token": csrf(admin_client, page),
                                                              "certificate": new_pem})  # fmt: skip
    assert response.status_code == 303
    certs = SamlConfig.from_dict(_saml(app_services, acme).config).idp_certs
    assert certs == (old, normalize_cert(new_pem))
    bad = admin_client.post(
        f"{page}/certificates", data={"csrf_token": csrf(admin_client, page), "certificate": "x"}
    )
    assert "not an X.509 certificate" in (field_error(bad, "certificate") or "")

    remove = admin_client.post(f"{page}/certificates/remove", data={"csrf_token": csrf(admin_client, page),
                                                                   "fingerprint": cert_fingerprint(old)})  # fmt: skip
    assert remove.status_code == 303
    last = cert_fingerprint(normalize_cert(new_pem))
    refused = admin_client.post(f"{page}/certificates/remove", data={"csrf_token": csrf(admin_client, page),
                                                                    "fingerprint": last})  # fmt: skip
    assert refused.status_code == 409
    assert "at least one IdP certificate" in (field_error(refused, "certificates") or "")


def test_recent_sign_ins_show_accepted_and_refused_with_the_reason(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    connection = app_services.connections.list(globex.id)[0]
    actor = m.Actor(m.ActorType.MEMBER, connection.id, f"saml connection {connection.slug}")
    app_services.members.sso_sign_in(globex.id, "bob@globex.test", actor)
    app_services.members.block_email(globex.id, "eve@globex.test", CLI)
    with pytest.raises(EmailBlocked):
        app_services.members.sso_sign_in(globex.id, "eve@globex.test", actor)
    sign_in(client, app_services, globex.id, globex.admin.id)
    words = text_of(client.get(f"/admin/connections/{connection.id}"))
    assert "accepted email=bob@globex.test, outcome=create" in words
    assert "refused email=eve@globex.test, reason=email_blocked" in words


def test_oidc_setup_errors_are_shown_next_to_their_field(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    setup = "/admin/connections/new/oidc?preset=okta"
    base = {
        "csrf_token": csrf(admin_client, setup),
        "preset": "okta",
        "name": "Okta OIDC",
        "client_secret": "s",
    }
    no_client = admin_client.post(
        "/admin/connections/new/oidc", data={**base, "issuer": "https://idp.example"}
    )
    assert no_client.status_code == 400
    assert "client ID" in (field_error(no_client, "client_id") or "")
    plain_http = admin_client.post(
        "/admin/connections/new/oidc", data={**base, "issuer": "http://idp.example", "client_id": "cid"}
    )
    assert plain_http.status_code == 400
    assert field_error(plain_http, "issuer")
    assert 'value="s"' not in plain_http.get_data(as_text=True)  # the secret is never echoed back
    assert app_services.connections.list(acme.id) == []


def test_reimporting_metadata_and_the_idp_initiated_switch(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    saml = app_services.saml_connections
    connection = saml.create(acme.id, "Okta", parse_idp_metadata(idp_metadata().encode()), CLI, preset="okta")
    page = f"/admin/connections/{connection.id}"
    newer = idp_metadata(sso_url="https://acme.okta.test/sso/v2")
    response = admin_client.post(
        f"{page}/metadata",
        data={
            "csrf_token": csrf(admin_client, page),
            "metadata_file": (io.BytesIO(newer.encode()), "new.xml"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert (
        SamlConfig.from_dict(_saml(app_services, acme).config).idp_sso_url == "https://acme.okta.test/sso/v2"
    )
    empty = admin_client.post(f"{page}/metadata", data={"csrf_token": csrf(admin_client, page)})
    assert empty.status_code == 400 and field_error(empty, "metadata_file")

    admin_client.post(
        f"{page}/idp-initiated", data={"csrf_token": csrf(admin_client, page), "allow_idp_initiated": "on"}
    )
    assert SamlConfig.from_dict(_saml(app_services, acme).config).allow_idp_initiated
    assert "IdP-initiated sign-in allowed" in text_of(admin_client.get(page))


def test_a_taken_or_empty_connection_id_is_shown_next_to_its_field(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    token = csrf(admin_client, SETUP)
    base = {"csrf_token": token, "preset": "okta", "name": "Okta", "metadata_xml": idp_metadata()}
    assert admin_client.post("/admin/connections/new/saml", data={**base, "slug": "okta"}).status_code == 303
    taken = admin_client.post("/admin/connections/new/saml", data={**base, "slug": "okta"})
    assert taken.status_code == 400 and "already exists" in (field_error(taken, "slug") or "")
    empty = admin_client.post("/admin/connections/new/saml", data={**base, "slug": "--"})
    assert "at least one letter or digit" in (field_error(empty, "slug") or "")
    assert len(app_services.connections.list(acme.id)) == 1


def test_after_a_test_sign_in_the_connection_page_shows_what_the_idp_sent(
    client: FlaskClient, app_services: Services, globex: Org
) -> None:
    connection = app_services.connections.list(globex.id)[0]
    saml = {"connection": connection.id, "slug": connection.slug, "name_id": "admin@globex.test",
            "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "session_index": "_s1"}  # fmt: skip
    _, token = app_services.sessions.start(globex.id, globex.admin.id, CLI, saml=saml)
    client.set_cookie("gw_session", token)
    words = text_of(client.get(f"/admin/connections/{connection.id}"))
    assert "Your sign-in through this connection" in words
    assert (
        "NameID admin@globex.test NameID format urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        in words
    )
    sign_in(client, app_services, globex.id, globex.admin.id)
    assert "Your sign-in through this connection" not in text_of(
        client.get(f"/admin/connections/{connection.id}")
    )


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"])
def test_in_production_a_metadata_url_on_a_private_address_is_never_fetched(
    admin_client: FlaskClient,
    app_services: Services,
    acme: Org,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
) -> None:
    requested: list[str] = []
    saml = app_services.saml_connections
    monkeypatch.setattr(saml, "allow_private_targets", False)
    monkeypatch.setattr(saml, "resolver", lambda name, port: [address])
    monkeypatch.setattr(saml, "get", lambda url, **kwargs: requested.append(url))
    response = admin_client.post("/admin/connections/new/saml", data={
        "csrf_token": csrf(admin_client, SETUP), "preset": "okta", "name": "Okta",
        "metadata_url": "https://idp.example.com/metadata",
    })  # fmt: skip
    message = field_error(response, "metadata_url") or ""
    assert address in message and "private or reserved" in message
    assert requested == []
    assert app_services.connections.list(acme.id) == []
