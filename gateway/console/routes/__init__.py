"""One module per console section; importing them registers their routes on the blueprint."""

from gateway.console.routes import (  # noqa: F401
    audit,
    connections,
    credentials,
    domains,
    invitations,
    members,
    mode,
    overview,
    projects,
)
