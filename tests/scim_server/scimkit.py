"""Helpers for the SCIM tests: a small client that speaks SCIM, an organization with a token, assertions.

(This directory is not a package, so this module is imported as ``scimkit``; its name must not clash with a
real package.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.domain import model as m
from gateway.services import Services

CLI = m.Actor.cli()
SCIM_JSON = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """``scim.post("/Users", {...})`` with the token, the SCIM content type and the base path filled in."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        data = json.dumps(body) if body is not None else None
        return self.client.open(
            "/scim/v2" + path,
            method=method,
            data=data,
            headers=headers,
            content_type=SCIM_JSON if data is not None else None,
            **kwargs,
        )

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, operations: list[dict[str, Any]], **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, {"schemas": [PATCH_URN], "Operations": operations}, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


@dataclass
class ScimOrg:
    org: m.Organization
    token: str
    scim: Scim


def make_scim_org(services: Services, client: FlaskClient, name: str = "Acme") -> ScimOrg:
    org = services.orgs.create(name, m.MembershipMode.SSO, CLI).org
    issued = services.credentials.create_scim_token(org.id, CLI)
    return ScimOrg(org, issued.token, Scim(client, issued.token))


def new_user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": user_name, **extra}


def assert_scim_error(response: TestResponse, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body
