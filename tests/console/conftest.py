"""Console fixtures: an app with an organization per mode and a signed-in browser (test client)."""

from __future__ import annotations

import pytest
from console_helpers import Org, make_org, sign_in
from flask.testing import FlaskClient

from gateway.domain import model as m
from gateway.services import Services


@pytest.fixture
def acme(app_services: Services) -> Org:
    """Invitation mode, no SSO connection."""
    return make_org(app_services, "Acme", m.MembershipMode.INVITATION, "acme.test")


@pytest.fixture
def globex(app_services: Services) -> Org:
    """SSO mode with an enabled SAML connection."""
    return make_org(app_services, "Globex", m.MembershipMode.SSO, "globex.test", connection=True)


@pytest.fixture
def admin_client(client: FlaskClient, app_services: Services, acme: Org) -> FlaskClient:
    sign_in(client, app_services, acme.id, acme.admin.id)
    return client
