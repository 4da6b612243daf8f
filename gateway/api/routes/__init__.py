"""The admin API's endpoints, one module per subject; importing a module registers its routes on ``bp``."""

from gateway.api.routes import (
    audit,
    billing,
    billing_statements,
    connections,
    credentials,
    invitations,
    members,
    migrations,
    org,
    projects,
    webhooks,
)

__all__ = [
    "audit",
    "billing",
    "billing_statements",
    "connections",
    "credentials",
    "invitations",
    "members",
    "migrations",
    "org",
    "projects",
    "webhooks",
]
