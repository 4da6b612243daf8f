"""Helpers for the console tests: organizations, signing a browser in, reading CSRF tokens and pages."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import generate_sp_key

CLI = m.Actor.cli()
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Org:
    org: m.Organization
    project: m.Project
    admin: m.Member

    @property
    def id(self) -> str:
        return self.org.id


def make_org(
    services: Services, name: str, mode: m.MembershipMode, domain: str, *, connection: bool = False
) -> Org:
    view = services.orgs.create(name, mode, CLI, domains=[domain])
    admin = services.members.add_admin(view.org.id, f"admin@{domain}", CLI)
    if connection:
        services.connections.add(view.org.id, m.ConnectionProtocol.SAML, "Okta", CLI)
    return Org(services.orgs.get(view.org.id).org, view.default_project, admin)


def sign_in(client: FlaskClient, services: Services, org_id: str, member_id: str) -> str:
    """Put a fresh member session in the client's cookie jar (as a finished sign-in would)."""
    _, token = services.sessions.start(org_id, member_id, CLI)
    client.set_cookie("gw_session", token)
    return token


def csrf(client: FlaskClient, path: str = "/admin/") -> str:
    """The CSRF token from a console page, read the way a browser would submit it."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    found = _CSRF.search(response.get_data(as_text=True))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def post(
    client: FlaskClient, path: str, data: dict | None = None, *, token_from: str = "/admin/"
) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf(client, token_from), **(data or {})})


def text_of(response: TestResponse) -> str:
    """The page with tags removed and whitespace collapsed, for assertions on what a person reads."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def field_error(response: TestResponse, field: str) -> str | None:
    """The error shown next to a form field (the element the field's ``aria-describedby`` points at)."""
    body = response.get_data(as_text=True)
    found = re.search(rf'<p class="field-error" id="{re.escape(field)}-error"[^>]*>(.*?)</p>', body, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def idp_metadata(
    entity_id: str = "http://www.okta.com/exk1", sso_url: str = "https://acme.okta.test/sso/saml"
) -> str:
    cert = generate_sp_key("idp", datetime(2026, 1, 1, tzinfo=UTC), key_size=1024).cert
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def pem_certificate() -> str:
    cert = generate_sp_key("new idp cert", datetime(2026, 1, 1, tzinfo=UTC), key_size=1024).cert
    lines = [cert[i : i + 64] for i in range(0, len(cert), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
