"""Helpers for the admin API tests: a tenant (organization, Admin member, admin API key), more members,
signing a member in by cookie, and reading problem responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.domain import model as m
from gateway.services import Services
from gateway.web.session_cookie import COOKIE_NAME

CLI = m.Actor.cli()
API = "/api/v1"


@dataclass
class Tenant:
    org_id: str
    slug: str
    default_project_id: str
    admin: m.Member
    admin_key: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.admin_key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_member(services: Services, org_id: str, email: str, role: m.Role = m.Role.MEMBER) -> m.Member:
    """A live member of the organization, whatever its membership mode (joined by the CLI's admin path)."""
    member = services.members.add_admin(org_id, email, CLI)
    if role is m.Role.MEMBER:
        member = services.members.change_role(org_id, member.id, m.Role.MEMBER, CLI, override=True)
    return member


def sign_in(client: FlaskClient, services: Services, member: m.Member) -> str:
    """Start a session for ``member`` and put its token in the client's ``gw_session`` cookie."""
    _, token = services.sessions.start(member.org_id, member.id, CLI)
    client.set_cookie(COOKIE_NAME, token)
    return token


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with this status and type; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"urn:gateway:problem:{code}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body
