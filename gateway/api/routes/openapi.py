"""The admin API's contract: ``/api/v1/openapi.json`` (OpenAPI 3.1, generated from the routes and schemas) and
``/api/v1/docs``, a self-contained page listing every operation with its parameters (no script, no CDN)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, render_template_string
from flask.typing import ResponseReturnValue

from gateway.api.auth import Access, access
from gateway.api.blueprint import bp
from gateway.api.openapi import build_spec
from gateway.wiring import settings

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ spec.info.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933}
h2{margin-top:2rem;border-bottom:1px solid #ddd}.op{margin:1rem 0;padding:.5rem 1rem;border:1px solid #e4e7eb;border-radius:6px}
.m{display:inline-block;min-width:4.5rem;font-weight:600;text-transform:uppercase}code{font-size:.95em}
.p{color:#52606d;font-size:.9rem}
</style></head><body>
<h1>{{ spec.info.title }}</h1>
<p>OpenAPI {{ spec.openapi }} document: <a href="openapi.json">openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;API key&gt;</code>. Errors are RFC 9457 problems.</p>
{% for tag, ops in groups %}<h2>{{ tag }}</h2>{% for path, method, op in ops %}
<div class="op"><span class="m">{{ method }}</span><code>{{ path }}</code> — {{ op.summary }}
{% if op.parameters %}<div class="p">Parameters: {% for p in op.parameters %}<code>{{ p.name }}</code> ({{ p["in"] }}){{ ", " if not loop.last }}{% endfor %}</div>{% endif %}
{% if op.requestBody %}<div class="p">Body: {{ op.requestBody.content | list | join(", ") }}</div>{% endif %}
<div class="p">Answers: {{ op.responses | list | join(", ") }}</div></div>{% endfor %}{% endfor %}
</body></html>"""


def document() -> dict[str, Any]:
    cached = current_app.extensions.get("gateway.openapi")
    if cached is None:
        cached = build_spec(current_app, settings().public_url)
        current_app.extensions["gateway.openapi"] = cached
    return cached


@bp.get("/openapi.json")
@access(Access.PUBLIC)
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document())


@bp.get("/docs")
@access(Access.PUBLIC)
def docs() -> ResponseReturnValue:
    """A page that renders the OpenAPI document."""
    spec = document()
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))
    html = render_template_string(PAGE, spec=spec, groups=sorted(groups.items()))
    return html, 200, {"Content-Type": "text/html; charset=utf-8"}
