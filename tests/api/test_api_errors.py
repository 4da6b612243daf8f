"""Every failure under /api/ is RFC 9457 problem JSON, and bad input never writes anything."""

from __future__ import annotations

import logging

import pytest
from api_helpers import API, Tenant, problem
from flask import Flask
from flask.testing import FlaskClient

from gateway.services import Services


def _invitations(app_services: Services, tenant: Tenant) -> int:
    return app_services.invitations.list(tenant.org_id)[1]


def test_unknown_endpoint_is_404_problem(client: FlaskClient, tenant: Tenant) -> None:
    problem(client.get(f"{API}/nope", headers=tenant.auth), 404, "not-found")
    problem(client.get("/api/v2/org"), 404, "not-found")


def test_pages_outside_the_api_keep_their_own_errors(client: FlaskClient) -> None:
    response = client.get("/definitely-not-here")
    assert response.status_code == 404
    assert response.mimetype != "application/problem+json"


def test_wrong_method_is_405_problem_with_allow(client: FlaskClient, tenant: Tenant) -> None:
    response = client.put(f"{API}/org", json={}, headers=tenant.auth)
    problem(response, 405, "method-not-allowed")
    assert "PATCH" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed-json"),
        ('["a@b.co"]', "application/json", 400, "malformed-json"),
        ('"text"', "application/json", 400, "malformed-json"),
        ("email=a@b.co", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        ("\xff\xfe", "application/json", 400, "malformed-json"),
    ],
)
def test_bad_bodies_are_problems_and_write_nothing(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    data: str,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(f"{API}/invitations", data=data, content_type=content_type, headers=tenant.auth)
    problem(response, status, code)
    assert _invitations(app_services, tenant) == 0


def test_unknown_fields_and_invalid_values_are_422_with_field_errors(
    client: FlaskClient, app_services: Services, tenant: Tenant
) -> None:
    response = client.post(
        f"{API}/invitations",
        json={"email": "not-an-address", "role": "owner", "admin": True},
        headers=tenant.auth,
    )
    body = problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"email", "role", "admin"}
    assert _invitations(app_services, tenant) == 0


def test_missing_required_field_is_422(client: FlaskClient, tenant: Tenant) -> None:
    body = problem(client.post(f"{API}/invitations", json={}, headers=tenant.auth), 422, "validation-failed")
    assert "email" in body["errors"]


def test_invalid_query_parameter_is_400(client: FlaskClient, tenant: Tenant) -> None:
    body = problem(
        client.get(f"{API}/members?per_page=500&status=gone", headers=tenant.auth), 400, "validation-failed"
    )
    assert set(body["errors"]) == {"per_page", "status"}


def test_too_large_body_is_413_problem(app: Flask, client: FlaskClient, tenant: Tenant) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.post(
        f"{API}/invitations", json={"email": "a" * 200 + "@acme.test"}, headers=tenant.auth
    )
    problem(response, 413, "payload-too-large")


def test_unexpected_error_is_generic_500_logged_with_request_id(
    client: FlaskClient,
    app_services: Services,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app_services.orgs, "get", explode)
    with caplog.at_level(logging.ERROR, logger="gateway.api"):
        response = client.get(f"{API}/org", headers={**tenant.auth, "X-Request-Id": "req-42"})
    body = problem(response, 500, "internal-error")
    assert body["request_id"] == "req-42"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    record = next(r for r in caplog.records if r.name == "gateway.api")
    assert record.request_id == "req-42"
    assert record.exc_info is not None
