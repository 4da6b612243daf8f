"""One module per console section; importing them registers their routes on the blueprint."""

from gateway.console.routes import (  # noqa: F401
    audit,
    billing,
    connections,
    credentials,
    invitations,
    members,
    migrations,
    mode,
    overview,
    projects,
    webhooks,
)
