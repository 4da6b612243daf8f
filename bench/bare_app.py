"""The floor of the side-by-side SCIM runs: a bare Flask endpoint that answers every SCIM request with a fixed
one-user ListResponse (201 to a POST, 200 otherwise), served by gunicorn as ``bare_app:app``."""

from __future__ import annotations

import json

from flask import Flask, Response, request

LIST_RESPONSE = json.dumps(
    {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "2819c223-7f76-453a-919d-413861904646",
                "userName": "bjensen@bench.example",
            }
        ],
    }
)

app = Flask("bare")


@app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
@app.route("/<path:path>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
def fixed(path: str) -> Response:
    return Response(
        LIST_RESPONSE, status=201 if request.method == "POST" else 200, content_type="application/scim+json"
    )
