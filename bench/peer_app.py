"""The peer of the side-by-side SCIM runs: PyPI's ``scim2-server`` (an in-memory SCIM server) built the way its
own ``scim2-server`` command builds it (default schemas, resource types and service provider configuration,
one bearer token), served by gunicorn as ``peer_app:app`` under ``/v2``.

Each gunicorn worker holds its own memory, so the users the lookups search for are created in every worker when
it imports this module: ``BENCH_PEER_LOOKUP_USERS`` of them, named like the gateway's (``lookup<i>@<domain>``).
"""

from __future__ import annotations

import os

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

TOKEN = os.environ.get("BENCH_PEER_TOKEN", "bench-peer-token")
LOOKUP_USERS = int(os.environ.get("BENCH_PEER_LOOKUP_USERS", "0"))
DOMAIN = os.environ.get("BENCH_DOMAIN", "bench.example")


def create_app() -> BearerTokenApplication:
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    service = ScimService(provider, secret=os.environ.get("SCIM2_SERVER_SECRET", "bench-peer-secret"))
    return BearerTokenApplication(InMemoryStorage(), provider, service=service, bearer_tokens=[TOKEN])


def _seed(application: BearerTokenApplication) -> None:
    """Create the lookup users through the application itself, as a client would."""
    import io
    import json

    for i in range(LOOKUP_USERS):
        body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"lookup{i}@{DOMAIN}",
                "name": {"givenName": "Lookup", "familyName": str(i)},
                "active": True,
                "emails": [{"value": f"lookup{i}@{DOMAIN}", "type": "work", "primary": True}],
            }
        ).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v2/Users",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/scim+json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        statuses: list[str] = []

        def start_response(
            status: str, headers: list, exc_info: object = None, into: list = statuses
        ) -> None:  # type: ignore[type-arg]
            into.append(status)

        b"".join(application(environ, start_response))
        if not statuses or not statuses[0].startswith("201"):
            raise RuntimeError(f"peer seed failed: {statuses}")


app = create_app()
_seed(app)
