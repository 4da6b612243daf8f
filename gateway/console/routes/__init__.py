"""One module per console section; importing them registers their routes on the blueprint."""

from gateway.console.routes import (  # noqa: F401
    audit,
    billing,
    connection_lifecycle,
    connections,
    credentials,
    domains,
    invitations,
    members,
    migrations,
    mode,
    overview,
    projects,
    scim_admin,
    webhooks,
)
