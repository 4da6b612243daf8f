"""SCIM fixtures: an organization in SSO mode with a SCIM token (``acme``) and its SCIM client (``scim``).

(The directory is ``tests/scim_server``, not ``tests/scim``: with ``tests/`` on sys.path, as pytest's prepend
import mode puts it, a ``tests/scim`` directory would shadow the ``scim`` package as a namespace package.)"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from scimkit import Scim, ScimOrg, make_scim_org

import gateway.storage.scim_tables  # noqa: F401  (the SCIM tables must be in the metadata the fixtures create)
from gateway.services import Services


@pytest.fixture
def acme(app_services: Services, client: FlaskClient) -> ScimOrg:
    return make_scim_org(app_services, client, "Acme")


@pytest.fixture
def scim(acme: ScimOrg) -> Scim:
    return acme.scim
