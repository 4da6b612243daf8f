"""The admin API's endpoints, one module per subject; importing a module registers its routes on ``bp``."""

from gateway.api.routes import (
    audit,
    billing,
    billing_statements,
    connection_lifecycle,
    connections,
    credentials,
    domains,
    invitations,
    members,
    migrations,
    openapi,
    org,
    projects,
    scim_admin,
    webhooks,
)

__all__ = [
    "audit",
    "billing",
    "billing_statements",
    "connection_lifecycle",
    "connections",
    "credentials",
    "domains",
    "invitations",
    "members",
    "migrations",
    "openapi",
    "org",
    "projects",
    "scim_admin",
    "webhooks",
]
