"""Fixtures for the admin API tests: ``make_tenant`` and ``tenant`` (see ``api_helpers``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import CLI, Tenant

from gateway.domain import model as m
from gateway.services import Services


@pytest.fixture
def make_tenant(app_services: Services) -> Callable[..., Tenant]:
    def make(
        name: str = "Acme", mode: m.MembershipMode = m.MembershipMode.INVITATION, domain: str | None = None
    ) -> Tenant:
        view = app_services.orgs.create(name, mode, CLI, domains=[domain] if domain else ())
        admin = app_services.members.add_admin(view.org.id, f"admin@{view.org.slug}.test", CLI)
        key = app_services.credentials.create_admin_key(view.org.id, CLI, "test admin key")
        return Tenant(view.org.id, view.org.slug, view.default_project.id, admin, key.token)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant()
