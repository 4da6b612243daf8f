"""Property test (hypothesis): generated admin-API bodies for the member, invitation and domain endpoints never
get a 5xx; every refusal is an RFC 9457 problem."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import API, Tenant, add_member
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.services import Services

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["ada@acme.test", "gmail.com", "admin", "member", "", "a" * 400, "\x00", "acme.com"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def shaped(*keys: str) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional={k: json_values for k in keys}) | json_values


def assert_no_server_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", response.get_data(as_text=True)


@pytest.fixture
def member_id(app_services: Services, tenant: Tenant) -> str:
    return add_member(app_services, tenant.org_id, "target@acme.test").id


@EXAMPLES
@given(body=shaped("role", "override_last_admin"))
def test_member_patch_never_fails_with_a_server_error(
    client: FlaskClient, tenant: Tenant, member_id: str, body: Any
) -> None:
    assert_no_server_error(client.patch(f"{API}/members/{member_id}", json=body, headers=tenant.auth))


@EXAMPLES
@given(body=shaped("email"))
def test_blocked_emails_post_never_fails_with_a_server_error(
    client: FlaskClient, tenant: Tenant, body: Any
) -> None:
    assert_no_server_error(client.post(f"{API}/blocked-emails", json=body, headers=tenant.auth))


@EXAMPLES
@given(body=shaped("email", "role"))
def test_invitations_post_never_fails_with_a_server_error(
    client: FlaskClient, tenant: Tenant, body: Any
) -> None:
    assert tenant  # invitation mode
    assert_no_server_error(client.post(f"{API}/invitations", json=body, headers=tenant.auth))


@EXAMPLES
@given(body=shaped("token"))
def test_invitation_accept_never_fails_with_a_server_error(
    client: FlaskClient, tenant: Tenant, body: Any
) -> None:
    assert_no_server_error(client.post(f"{API}/invitations/accept", json=body))


@EXAMPLES
@given(body=shaped("domain", "verified"))
def test_domains_post_never_fails_with_a_server_error(
    client: FlaskClient, tenant: Tenant, app_services: Services, body: Any
) -> None:
    response = client.post(f"{API}/domains", json=body, headers=tenant.auth)
    assert_no_server_error(response)
    if response.status_code == 201:
        assert response.get_json()["status"] in ("pending", "verified")
        assert not any(d.verified for d in app_services.orgs.get(tenant.org_id).domains)


@EXAMPLES
@given(body=shaped("mode"))
def test_mode_preview_never_fails_with_a_server_error(client: FlaskClient, tenant: Tenant, body: Any) -> None:
    assert_no_server_error(client.post(f"{API}/mode/preview", json=body, headers=tenant.auth))
