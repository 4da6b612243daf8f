"""The admin API's endpoints, one module per subject; importing a module registers its routes on ``bp``."""

from gateway.api.routes import (
    audit,
    connections,
    credentials,
    invitations,
    members,
    org,
    projects,
    webhooks,
)

__all__ = ["audit", "connections", "credentials", "invitations", "members", "org", "projects", "webhooks"]
