"""The OpenAPI 3.1 document: generated from the routes, it lists every ``/api/v1`` route and method, is a valid
OpenAPI 3.1 document, and its page renders without anything from outside the gateway. (That every response the
API tests see matches it is checked for each test by ``responses_match_the_openapi_document`` in conftest.)"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from openapi_check import OpenApiChecker

API = "/api/v1"


def test_every_api_route_and_method_is_in_the_document(app: Flask, client: FlaskClient) -> None:
    spec = client.get(f"{API}/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    checker = OpenApiChecker(spec)
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith(API)]
    assert len(rules) > 40
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            problems = checker.problems(method, rule.rule, 599, "application/problem+json", {})
            assert not [p for p in problems if "not in the OpenAPI document" in p], (method, rule.rule)


def test_the_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    from jsonschema import Draft202012Validator

    spec = client.get(f"{API}/openapi.json").get_json()
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert spec["paths"][f"{API}/members"]["get"]["responses"]["200"]["content"]["application/json"]
    body = spec["paths"][f"{API}/projects"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NameBody"}


def test_the_docs_page_lists_the_operations_and_loads_nothing_from_elsewhere(client: FlaskClient) -> None:
    page = client.get(f"{API}/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/members/{member_id}" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
