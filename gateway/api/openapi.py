"""The admin API's OpenAPI 3.1 document, generated (apispec + its marshmallow plugin) from the routes and the
very schemas they use, so the contract cannot drift from the code.

For each ``/api/v1`` rule the view's own source says what it reads and answers: ``load_body(X())`` is the
JSON request body, ``load_query(X())`` the query parameters, ``load_document_or_body(X(), ...)`` a JSON body
or an XML document; the ``representations`` function it answers with (``out.member(...)``, or a page of them
through ``paging.body``) names the output schema; a literal ``return ..., 201`` (or ``"", 204``) the success
status. Every operation may also answer an RFC 9457 problem (``default``).

Output schemas allow ``null`` for every property (a dump writes ``None`` for an unset timestamp) and extra
properties (several answers add a field or two to an entity, e.g. the ``token`` shown once).
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
from collections.abc import Callable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from gateway.api import representations
from gateway.api.blueprint import PREFIX

TITLE = "Identity gateway admin API"
VERSION = "1"
LOADERS = {"load_body": "body", "load_query": "query", "load_document_or_body": "document"}
METHODS = ("get", "post", "put", "patch", "delete")
PAGES = {"api.docs"}
"""Endpoints that answer an HTML page rather than JSON."""

ALSO_CSV = {"api.get_statement"}

ALSO_200 = {"api.request_migration"}
"""Endpoints that create (201) but answer a dry run with 200."""
"""Endpoints that answer CSV instead of JSON when asked (``?format=csv``)."""

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {"type": "object"},
    },
}
PAGE_LINKS = {
    "type": "object",
    "properties": {k: {"type": ["string", "null"]} for k in ("self", "next", "prev")},
}


def _schema_name(schema: type[Schema]) -> str:
    return schema.__name__


@functools.cache
def _representation_schemas() -> dict[str, type[Schema]]:
    """``representations`` function name -> the output schema it dumps first (``member`` -> ``MemberOut``)."""
    found: dict[str, type[Schema]] = {}
    for name, fn in vars(representations).items():
        if not inspect.isfunction(fn) or fn.__module__ != representations.__name__ or name.startswith("_"):
            continue
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn)))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                target = getattr(representations, node.func.id, None)
                if inspect.isclass(target) and issubclass(target, Schema):
                    found[name] = target
                    break
                if node.func.id in found:
                    found[name] = found[node.func.id]
                    break
    return found


class _ViewFacts:
    """What one view function reads and answers, read from its source."""

    def __init__(self, view: Callable[..., Any]) -> None:
        fn = inspect.unwrap(view)
        self.doc = inspect.getdoc(fn) or ""
        self.inputs: dict[str, type[Schema]] = {}
        self.output: type[Schema] | None = None
        self.paged = False
        self.statuses: set[int] = set()
        self.empty = False
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        scope = fn.__globals__
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node, scope)
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                parts = node.value.elts
                if len(parts) == 2 and isinstance(parts[1], ast.Constant) and isinstance(parts[1].value, int):
                    self.statuses.add(parts[1].value)
                    if isinstance(parts[0], ast.Constant) and parts[0].value == "":
                        self.empty = True

    def _call(self, node: ast.Call, scope: dict[str, Any]) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name in LOADERS and node.args and isinstance(node.args[0], ast.Call):
            schema = _resolve(node.args[0].func, scope)
            if schema is not None:
                self.inputs[LOADERS[name]] = schema
        if name == "body" and len(node.args) == 3:
            self.paged = True
            self._output(node.args[2])
        func = node.func
        is_out = (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "out"
        )
        if is_out and self.output is None:
            self._output(func)

    def _output(self, node: ast.expr) -> None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "out":
            self.output = _representation_schemas().get(node.attr) or self.output


def _resolve(node: ast.expr, scope: dict[str, Any]) -> type[Schema] | None:
    value: Any = None
    if isinstance(node, ast.Name):
        value = scope.get(node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        value = getattr(scope.get(node.value.id), node.attr, None)
    return value if inspect.isclass(value) and issubclass(value, Schema) else None


def _openapi_path(rule: str) -> tuple[str, list[str]]:
    names: list[str] = []

    def param(match: re.Match[str]) -> str:
        names.append(match.group(2))
        return "{" + match.group(2) + "}"

    return re.sub(r"<(?:([a-z_]+):)?([a-zA-Z_][a-zA-Z0-9_]*)>", param, rule), names


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Every property of an output schema may be null, and an answer may add properties (recursively)."""
    schema.pop("additionalProperties", None)
    for prop in schema.get("properties", {}).values():
        kind = prop.get("type")
        if isinstance(kind, str):
            prop["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            kind.append("null")
        if "enum" in prop and None not in prop["enum"]:
            prop["enum"] = [*prop["enum"], None]
        if "$ref" in prop:
            ref = prop.pop("$ref")
            prop["anyOf"] = [{"$ref": ref}, {"type": "null"}]
        if isinstance(prop.get("items"), dict):
            _nullable(prop["items"])
        _nullable(prop)
    return schema


def build_spec(app: Flask, public_url: str) -> dict[str, Any]:
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        servers=[{"url": public_url.rstrip("/")}],
        info={"description": "The admin JSON API of the identity gateway (see docs/api.md)."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", PROBLEM)
    plugin: MarshmallowPlugin = spec.plugins[0]  # type: ignore[assignment]
    outputs: set[str] = set()
    components = _Components(spec)
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX)), key=lambda r: (r.rule, r.endpoint)
    )
    for rule in rules:
        path, params = _openapi_path(rule.rule)
        facts = _ViewFacts(app.view_functions[rule.endpoint])
        operations: dict[str, Any] = {}
        for method in sorted(m.lower() for m in (rule.methods or ()) if m.lower() in METHODS):
            operations[method] = _operation(plugin, components, rule.endpoint, method, params, facts, outputs)
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for name in outputs:
        _nullable(document["components"]["schemas"][name])
    return document


def _operation(
    plugin: MarshmallowPlugin,
    components: _Components,
    endpoint: str,
    method: str,
    params: list[str],
    facts: _ViewFacts,
    outputs: set[str],
) -> dict[str, Any]:
    summary, _, description = facts.doc.partition("\n")
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.removeprefix('api.')}_{method}",
        "tags": [endpoint.removeprefix("api.").split("_")[-1]],
        "summary": summary or endpoint.removeprefix("api.").replace("_", " "),
        "security": [] if endpoint.endswith("openapi") or endpoint.endswith("docs") else [{"bearer": []}],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ],
    }
    if description.strip():
        operation["description"] = description.strip()
    converter = plugin.converter
    assert converter is not None
    if "query" in facts.inputs:
        operation["parameters"] += converter.schema2parameters(facts.inputs["query"], location="query")
    body = facts.inputs.get("body") or facts.inputs.get("document")
    if body is not None and method in ("post", "put", "patch"):
        content: dict[str, Any] = {"application/json": {"schema": components.ref(body)}}
        if "document" in facts.inputs:
            content["application/samlmetadata+xml"] = {"schema": {"type": "string"}}
        operation["requestBody"] = {"required": False, "content": content}
    status = min(facts.statuses) if facts.statuses else 200
    if facts.empty:
        success: dict[str, Any] = {"description": "Done; no content."}
    elif endpoint in PAGES:
        success = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    else:
        schema: dict[str, Any] = {"type": "object"}
        if facts.output is not None:
            outputs.add(facts.output.__name__)
            item = components.ref(facts.output)
            schema = (
                {
                    "type": "object",
                    "required": ["items", "total", "page", "per_page"],
                    "properties": {
                        "items": {"type": "array", "items": item},
                        # A keyset page (?cursor=) has neither a total nor a page number.
                        "total": {"type": ["integer", "null"]},
                        "page": {"type": ["integer", "null"]},
                        "per_page": {"type": "integer"},
                        "next_cursor": {"type": ["string", "null"]},
                        "links": PAGE_LINKS,
                    },
                }
                if facts.paged
                else item
            )
        success = {"description": "Success.", "content": {"application/json": {"schema": schema}}}
        if endpoint in ALSO_CSV:
            success["content"]["text/csv"] = {"schema": {"type": "string"}}
    also = {"200": success} if endpoint in ALSO_200 else {}
    operation["responses"] = {
        **also,
        str(status): success,
        "default": {
            "description": "An RFC 9457 problem.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    }
    return operation


class _Components:
    def __init__(self, spec: APISpec) -> None:
        self.spec = spec

    def ref(self, schema: type[Schema]) -> dict[str, Any]:
        name = schema.__name__
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, schema=schema)
        return {"$ref": f"#/components/schemas/{name}"}
