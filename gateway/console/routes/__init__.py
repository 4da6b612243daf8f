"""One module per console section; importing them registers their routes on the blueprint."""

from gateway.console.routes import (  # noqa: F401
    audit,
    connection_lifecycle,
    connections,
    credentials,
    domains,
    invitations,
    members,
    mode,
    overview,
    projects,
    scim_admin,
)
