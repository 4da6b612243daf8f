"""A connection's life in the console (issue 13): edit, OIDC client secret rotation, SAML metadata refresh,
and disabling or deleting the last enabled connection of an SSO-mode organization only after the Admin types
the connection's ID."""

from __future__ import annotations

from typing import Any

from console_helpers import CLI, Org, field_error, idp_metadata, make_org, post, sign_in, text_of
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import parse_idp_metadata

META_URL = "https://idp.example/metadata.xml"


def _saml(services: Services, org: Org, slug: str = "okta-prod", **options: Any) -> m.SsoConnection:
    idp = parse_idp_metadata(idp_metadata().encode())
    return services.saml_connections.create(org.id, "Okta", idp, CLI, slug=slug, **options)


def _page(connection: m.SsoConnection) -> str:
    return f"/admin/connections/{connection.id}"


def _sso_org(app_services: Services, client: FlaskClient) -> tuple[Org, m.SsoConnection]:
    org = make_org(app_services, "Initech", m.MembershipMode.INVITATION, "initech.test")
    connection = _saml(app_services, org, slug="initech-okta")
    app_services.mode.apply(org.id, m.MembershipMode.SSO, CLI)
    sign_in(client, app_services, org.id, org.admin.id)
    return org, connection


def test_an_admin_edits_a_connection(admin_client: FlaskClient, app_services: Services, acme: Org) -> None:
    connection = _saml(app_services, acme)
    form = {
        "name": "Okta production",
        "domains": "acme.test, acme-labs.test",
        "admin_groups": "IT Admins\nSecurity\n",
        "attr_email": "mail",
        "attr_groups": "memberOf",
        "attr_first_name": "givenName",
        "attr_last_name": "sn",
        "allow_idp_initiated": "on",
        "metadata_url": "",
    }
    response = post(admin_client, f"{_page(connection)}/edit", form, token_from=_page(connection))
    assert response.status_code == 303
    words = text_of(admin_client.get(_page(connection)))
    assert "The connection is saved." in words and "Okta production" in words
    saved = app_services.connections.by_slug(connection.slug)
    assert saved is not None and saved.name == "Okta production"
    assert saved.config["domains"] == ["acme.test", "acme-labs.test"]
    assert saved.config["admin_groups"] == ["IT Admins", "Security"]
    assert saved.config["attributes"]["groups"] == "memberOf" and saved.config["allow_idp_initiated"] is True
    assert saved.config["idp_certs"] == connection.config["idp_certs"]
    assert len(app_services.audit.list(acme.id, action="connection.updated")[0]) == 1


def test_an_edit_error_is_shown_next_to_its_field(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    connection = _saml(app_services, acme)
    form = {"name": "Renamed", "domains": "not-a-domain", "admin_groups": "", "attr_email": "mail"}
    response = post(admin_client, f"{_page(connection)}/edit", form, token_from=_page(connection))
    assert response.status_code == 400
    assert "is not a domain name" in (field_error(response, "domains") or "")
    assert app_services.connections.by_slug(connection.slug).name == "Okta"  # type: ignore[union-attr]


def test_disabling_the_last_connection_in_sso_mode_asks_for_the_connection_id(
    client: FlaskClient, app_services: Services
) -> None:
    _, connection = _sso_org(app_services, client)
    asked = post(client, f"{_page(connection)}/disable", token_from=_page(connection))
    assert asked.status_code == 409
    words = text_of(asked)
    assert "nobody can sign in" in words and "type the connection ID initech-okta" in words
    assert app_services.connections.by_slug(connection.slug).enabled  # type: ignore[union-attr]

    wrong = post(client, f"{_page(connection)}/disable", {"confirm": "yes"}, token_from=_page(connection))
    assert wrong.status_code == 400 and field_error(wrong, "confirm") == "Type initech-okta to confirm."
    assert app_services.connections.by_slug(connection.slug).enabled  # type: ignore[union-attr]

    done = post(
        client, f"{_page(connection)}/disable", {"confirm": "initech-okta"}, token_from=_page(connection)
    )
    assert done.status_code == 303
    assert not app_services.connections.by_slug(connection.slug).enabled  # type: ignore[union-attr]


def test_deleting_a_connection_shows_what_happens_and_keeps_the_members(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    connection = _saml(app_services, acme)
    preview = admin_client.get(f"{_page(connection)}/delete")
    words = text_of(preview)
    assert "keep their accounts" in words and "0 session(s) started through it end now" in words
    assert "type the connection ID" not in words
    response = post(admin_client, f"{_page(connection)}/delete", token_from=f"{_page(connection)}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/connections")
    assert app_services.connections.by_slug(connection.slug) is None
    assert app_services.members.list(acme.id)[1] == 1


def test_deleting_the_last_connection_in_sso_mode_needs_the_typed_override(
    client: FlaskClient, app_services: Services
) -> None:
    org, connection = _sso_org(app_services, client)
    delete = f"{_page(connection)}/delete"
    assert "type the connection ID initech-okta" in text_of(client.get(delete))
    refused = post(client, delete, {"confirm": ""}, token_from=delete)
    assert refused.status_code == 400 and app_services.connections.by_slug(connection.slug) is not None
    assert post(client, delete, {"confirm": "initech-okta"}, token_from=delete).status_code == 303
    assert app_services.connections.by_slug(connection.slug) is None
    assert app_services.audit.list(org.id, action="connection.deleted")[0][0].details["override"] is True


def test_rotating_an_oidc_client_secret_in_the_console(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    config = {"issuer": "https://idp.example", "client_id": "gw", "client_secret": "fernet:v1:old"}
    connection = app_services.connections.add(acme.id, m.ConnectionProtocol.OIDC, "Entra", CLI, config=config)
    page = _page(connection)
    empty = post(admin_client, f"{page}/client-secret", {"client_secret": ""}, token_from=page)
    assert empty.status_code == 400 and field_error(empty, "client_secret")
    assert (
        post(
            admin_client, f"{page}/client-secret", {"client_secret": "new-s3cret"}, token_from=page
        ).status_code
        == 303
    )
    words = text_of(admin_client.get(page))
    assert "the old secret is still tried" in words and "new-s3cret" not in admin_client.get(page).get_data(
        as_text=True
    )
    assert post(admin_client, f"{page}/client-secret/drop", token_from=page).status_code == 303
    assert "the old secret is still tried" not in text_of(admin_client.get(page))


class _Answer:
    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status_code = body, status

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def iter_content(self, size: int) -> list[bytes]:
        return [self.body]


def test_refreshing_saml_metadata_from_the_console(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    connection = _saml(app_services, acme, metadata_url=META_URL)
    page = _page(connection)
    served = {"body": idp_metadata().encode()}  # a new signing certificate at the same IdP
    app_services.saml_connections.get = lambda url, **kw: _Answer(served["body"])
    app_services.saml_connections.resolver = lambda host: ["93.184.216.34"]
    assert post(admin_client, f"{page}/metadata/refresh", token_from=page).status_code == 303
    words = text_of(admin_client.get(page))
    assert "Metadata refreshed: 1 new signing certificate(s) trusted; 1 certificate(s)" in words
    assert "worked" in words

    served["body"] = idp_metadata(entity_id="http://someone.else/idp").encode()
    refused = post(admin_client, f"{page}/metadata/refresh", token_from=page)
    assert refused.status_code == 400 and "nothing was changed" in (field_error(refused, "refresh") or "")


def test_the_mode_preview_warns_that_no_connection_was_tested(
    admin_client: FlaskClient, app_services: Services, acme: Org
) -> None:
    _saml(app_services, acme)
    words = text_of(admin_client.get("/admin/mode/preview?to=sso"))
    assert "No enabled connection has had a successful test sign-in" in words
    assert "Confirm: switch to sso mode" in words  # a warning, not a refusal
