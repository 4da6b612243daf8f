"""Checks a real admin API response against the OpenAPI document the gateway serves: the status is documented
for the operation (or falls under ``default``) and the body validates against the documented schema."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ROOT = "urn:gateway-openapi"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApiChecker:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry = Registry().with_resource(ROOT, DRAFT202012.create_resource(spec))

    def problems(self, method: str, rule: str, status: int, mimetype: str, body: Any) -> list[str]:
        path = re.sub(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>", r"{\1}", rule)
        operation = self.spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            return [f"{method} {path} is not in the OpenAPI document"]
        key = str(status) if str(status) in operation["responses"] else "default"
        if key not in operation["responses"]:
            return [f"{method} {path} answered {status}, which is not documented"]
        content = operation["responses"][key].get("content")
        if not content:
            return [] if body in (None, b"", "") else [f"{method} {path} {status}: undocumented body"]
        if mimetype not in content:
            return [f"{method} {path} {status}: content type {mimetype} not documented ({list(content)})"]
        if not mimetype.endswith("json"):
            return []
        ref = "#/" + _pointer("paths", path, method.lower(), "responses", key, "content", mimetype, "schema")
        validator = Draft202012Validator({"$ref": ROOT + ref}, registry=self.registry)
        return [
            f"{method} {path} {status}: {e.message} at {list(e.absolute_path)}"
            for e in validator.iter_errors(body)
        ]
