"""What ``/metrics`` counts: routes by template, SCIM operations by resource/method/outcome, sign-ins by
protocol/outcome/reason, the outbox queue from the database, the pool in use, and the rate-limit counter
another component increments."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from gateway import metrics
from gateway.domain import model as m
from gateway.domain.errors import ModeForbids
from gateway.services import Services

CLI = m.Actor.cli()


def scrape(client: FlaskClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_routes_are_labelled_by_template_and_scim_by_resource(
    client: FlaskClient, app_services: Services
) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    token = app_services.credentials.create_scim_token(org.id, CLI).token
    auth = {"Authorization": f"Bearer {token}"}
    route = "/saml/<slug>/metadata"
    before = scrape(client, "gateway_http_requests_total", route=route, status="404")
    missing = scrape(
        client, "gateway_scim_operations_total", resource="Users", method="GET", outcome="not_found"
    )
    client.get("/saml/one/metadata")
    client.get("/saml/two/metadata")
    client.get("/scim/v2/Users/00000000-0000-0000-0000-000000000000", headers=auth)
    assert scrape(client, "gateway_http_requests_total", route=route, status="404") == before + 2
    assert (
        scrape(client, "gateway_scim_operations_total", resource="Users", method="GET", outcome="not_found")
        == missing + 1
    )


def test_sign_ins_are_counted_by_protocol_outcome_and_reason(
    app: Flask, client: FlaskClient, app_services: Services
) -> None:
    sso = app_services.orgs.create("Acme", m.MembershipMode.SSO, CLI, domains=["acme.com"]).org
    invite = app_services.orgs.create("Other", m.MembershipMode.INVITATION, CLI).org
    labels = {"protocol": "saml"}
    created = scrape(client, "gateway_sign_ins_total", outcome="succeeded", reason="create", **labels)
    refused = scrape(client, "gateway_sign_ins_total", outcome="refused", reason="mode_forbids", **labels)
    with app.test_request_context("/saml/acme/acs", method="POST"):
        app_services.members.sso_sign_in(sso.id, "ada@acme.com", CLI)
        with pytest.raises(ModeForbids):
            app_services.members.sso_sign_in(invite.id, "bob@acme.com", CLI)
    assert (
        scrape(client, "gateway_sign_ins_total", outcome="succeeded", reason="create", **labels)
        == created + 1
    )
    assert (
        scrape(client, "gateway_sign_ins_total", outcome="refused", reason="mode_forbids", **labels)
        == refused + 1
    )


def test_outbox_queue_depth_is_read_from_the_database(client: FlaskClient, app_services: Services) -> None:
    org = app_services.orgs.create("Acme", m.MembershipMode.INVITATION, CLI).org
    assert scrape(client, "gateway_outbox_messages", kind="email", status="pending") == 0
    app_services.invitations.create(org.id, "ada@example.org", m.Role.MEMBER, CLI)
    assert scrape(client, "gateway_outbox_messages", kind="email", status="pending") == 1


def test_rate_limit_refusals_and_pool_use_are_exposed(client: FlaskClient) -> None:
    before = scrape(client, "gateway_rate_limited_total", scope="scim")
    metrics.RATE_LIMITED.labels(scope="scim").inc()
    assert scrape(client, "gateway_rate_limited_total", scope="scim") == before + 1
    assert scrape(client, "gateway_db_pool_connections_in_use") >= 0
    assert scrape(client, "gateway_db_pool_size") >= 0


def test_the_grafana_dashboard_only_queries_metrics_the_gateway_exposes(client: FlaskClient) -> None:
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[1] / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"gateway_[a-z_]+", target["expr"])
    }
    metrics.RATE_LIMITED.labels(scope="scim")
    metrics.DEAD_LETTERS.labels(kind="email")
    metrics.DELIVERY_ATTEMPTS.labels(kind="email", outcome="delivered")
    metrics.DB_UNAVAILABLE.labels(protocol="scim")
    metrics.SIGN_INS.labels(protocol="saml", outcome="refused", reason="x")
    metrics.SCIM_OPERATIONS.labels(resource="Users", method="GET", outcome="success")
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    exposed = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    exposed |= {f.name for f in text_string_to_metric_families(text)}
    assert queried - exposed == set()
