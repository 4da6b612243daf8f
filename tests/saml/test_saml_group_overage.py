"""Entra ID group overage over SAML: an assertion that carries ``groups.link`` instead of the groups never
demotes an Admin whose role comes from an admin group; a SAML connection has no credentials to fetch the full
list, so the member keeps their role and the sign-in's audit event says why."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, add_saml_connection

from gateway.domain import model as m
from gateway.services import Services

EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
GROUPS_LINK = "http://schemas.microsoft.com/claims/groups.link"
ADMINS = "5f2d4c1e-0000-4000-8000-00000000a11d"


def test_an_overage_assertion_never_demotes_an_admin(
    app: Flask, client: FlaskClient, acme: m.Organization, app_services: Services
) -> None:
    app_services.members.add_admin(acme.id, "owner@acme.test", CLI)
    app_services.members.add_admin(acme.id, "ada@acme.test", CLI)
    entra = add_saml_connection(app, client, acme, name="entra", preset="entra", admin_groups=(ADMINS,))
    link = "https://graph.windows.net/tenant-id/users/ada-object-id/getMemberObjects"
    overage = {EMAIL: ["ada@acme.test"], GROUPS_LINK: [link]}
    assert entra.sign_in(client, "ada@acme.test", attributes=overage).status_code == 303
    assert client.get("/me").get_json()["role"] == "admin"
    events, _ = app_services.audit.list(acme.id, action="sign_in.succeeded")
    assert events[0].details["role_kept"] == "groups_overage"
    # A complete list without the admin group still demotes, as the mapping says.
    complete = {EMAIL: ["ada@acme.test"], GROUPS: ["some-other-group"]}
    assert entra.sign_in(client, "ada@acme.test", attributes=complete).status_code == 303
    assert client.get("/me").get_json()["role"] == "member"
    # And a cut-short list that names the admin group promotes.
    both = {EMAIL: ["ada@acme.test"], GROUPS: [ADMINS], GROUPS_LINK: [link]}
    assert entra.sign_in(client, "ada@acme.test", attributes=both).status_code == 303
    assert client.get("/me").get_json()["role"] == "admin"
