"""The ACS signs in with the connection its process kept from an earlier sign-in, checked against the stored row
in the statement the sign-in sends first: an edit made anywhere (another gateway process, a plain SQL
statement, this process's own services) is what the next sign-in uses, and the attempt made on the stale copy
writes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from saml_helpers import CLI, SamlSetup, add_saml_connection
from saml_idp import IDP_KEY, IDP_NEW_KEY, post_acs, reason, start_login
from statement_counter import count_statements

from gateway.domain import model as m
from gateway.services import Services
from gateway.services.saml_connections import SamlConfig, cert_fingerprint
from tests.signout import sign_out

EMAIL = "ada@acme.test"


def _elsewhere(services: Services, sql: str, **params: object) -> None:
    """A write another process makes: straight to the database, past this process's services."""
    with services.db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _login(client: FlaskClient, setup: SamlSetup) -> tuple[str, str | None]:
    """A signed-out browser starts a sign-in: the AuthnRequest's id and the relay state."""
    sign_out(client)
    return start_login(client, setup.slug)


def _sign_in(client: FlaskClient, setup: SamlSetup, **kwargs):  # type: ignore[no-untyped-def]
    request_id, relay = _login(client, setup)
    return post_acs(client, setup.slug, setup.response(EMAIL, in_response_to=request_id, **kwargs), relay)


def _counted_sign_in(client: FlaskClient, setup: SamlSetup, services: Services):  # type: ignore[no-untyped-def]
    """A sign-in whose ACS post alone is counted: its answer and the statements it sent."""
    request_id, relay = _login(client, setup)
    xml = setup.response(EMAIL, in_response_to=request_id)
    with count_statements(services.db.engine) as counted:
        answer = post_acs(client, setup.slug, xml, relay)
    return answer, counted.statements


def _reads_of_the_connection(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM sso_connections" in s and "sso_connections.slug =" in s]


def _rows(services: Services, table: str, org_id: str, extra: str = "") -> int:
    with services.db.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE org_id = :org {extra}"), {"org": org_id}
            ).scalar_one()
        )


def test_a_sign_in_uses_the_kept_connection_without_reading_it(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert _sign_in(client, okta).status_code == 303
    answer, statements = _counted_sign_in(client, okta, app_services)
    assert answer.status_code == 303
    assert _reads_of_the_connection(statements) == []


def test_a_connection_disabled_elsewhere_refuses_the_next_sign_in(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert _sign_in(client, okta).status_code == 303
    request_id, relay = _login(client, okta)
    _elsewhere(
        app_services,
        "UPDATE sso_connections SET enabled = :off WHERE id = :id",
        off=False,
        id=okta.connection.id,
    )
    refused = post_acs(client, okta.slug, okta.response(EMAIL, in_response_to=request_id), relay)
    assert refused.status_code == 403
    assert reason(refused) == "connection_disabled"
    assert client.get("/me").status_code == 401
    _elsewhere(
        app_services,
        "UPDATE sso_connections SET enabled = :on WHERE id = :id",
        on=True,
        id=okta.connection.id,
    )
    assert _sign_in(client, okta).status_code == 303


def test_a_certificate_replaced_elsewhere_is_the_one_the_next_sign_in_checks(
    app: Flask, client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert _sign_in(client, okta).status_code == 303
    # Another process swaps the IdP's signing certificate (the old one removed, the new one added).
    connections = app_services.saml_connections
    connections.add_idp_certificate(okta.org.id, okta.connection.id, IDP_NEW_KEY.cert_b64, CLI)
    connections.remove_idp_certificate(
        okta.org.id, okta.connection.id, cert_fingerprint(IDP_KEY.cert_b64), CLI
    )

    # The kept copy still trusts the old key alone: the new signature is refused by it, and the refusal is
    # checked against the stored connection before it is given.
    answer = _sign_in(client, okta, key=IDP_NEW_KEY)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    stale = _sign_in(client, okta, key=IDP_KEY)
    assert stale.status_code == 403
    assert reason(stale) == "saml_signature"


def test_an_attempt_on_a_stale_copy_writes_nothing_and_the_copy_is_replaced(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert _sign_in(client, okta).status_code == 303
    org = okta.org.id
    sessions = _rows(app_services, "web_sessions", org)
    seen = _rows(app_services, "saml_assertions_seen", org)
    audited = _rows(app_services, "audit_events", org, "AND action = 'sign_in.succeeded'")
    _elsewhere(
        app_services,
        "UPDATE sso_connections SET name = 'Okta (renamed)' WHERE id = :id",
        id=okta.connection.id,
    )

    answer, statements = _counted_sign_in(client, okta, app_services)
    assert answer.status_code == 303
    assert len(_reads_of_the_connection(statements)) == 1, "the stale copy was read again, once"
    assert _rows(app_services, "web_sessions", org) == sessions + 1
    assert _rows(app_services, "saml_assertions_seen", org) == seen + 1
    assert _rows(app_services, "audit_events", org, "AND action = 'sign_in.succeeded'") == audited + 1

    answer, statements = _counted_sign_in(client, okta, app_services)
    assert answer.status_code == 303
    assert _reads_of_the_connection(statements) == [], "the copy read again is kept"


def test_a_connection_deleted_elsewhere_is_unknown_to_the_next_sign_in(
    app: Flask, client: FlaskClient, acme: m.Organization, app_services: Services
) -> None:
    add_saml_connection(app, client, acme, name="spare")  # the organization keeps a usable connection
    setup = add_saml_connection(app, client, acme, name="doomed")
    assert _sign_in(client, setup).status_code == 303
    request_id, relay = _login(client, setup)
    app_services.connection_lifecycle.delete(acme.id, setup.connection.id, CLI)
    gone = post_acs(client, setup.slug, setup.response(EMAIL, in_response_to=request_id), relay)
    assert gone.status_code == 404
    assert client.get("/me").status_code == 401


def test_the_kept_copy_holds_the_configuration_it_was_read_with(
    client: FlaskClient, okta: SamlSetup, app_services: Services
) -> None:
    assert _sign_in(client, okta).status_code == 303
    kept = app_services.saml_connections.kept.get(okta.slug)
    assert kept is not None and kept.revision
    assert (
        SamlConfig.from_dict(kept.config).idp_entity_id
        == SamlConfig.from_dict(okta.connection.config).idp_entity_id
    )
