"""Reading a request: a JSON object body or query parameters, validated by a marshmallow schema (and, where an
endpoint takes a document such as SAML metadata, that document as the raw body with the options in the query).

Nothing is written before the whole input validated: malformed JSON or a body that is not an object is a 400,
a wrong content type a 415, and a schema failure a 422 (body) or 400 (query) problem listing every field.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError

from gateway.api.errors import ApiProblem

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/samlmetadata+xml", "application/xml", "text/xml")


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; an absent body reads as ``{}``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not _is_json(request.mimetype):
        raise ApiProblem(
            415,
            "unsupported_media_type",
            "Send the request body as JSON with 'Content-Type: application/json'.",
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiProblem(400, "malformed_json", f"The request body is not valid JSON: {error}.") from None
    except RecursionError:
        raise ApiProblem(400, "malformed_json", "The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "malformed_json", "The request body must be a JSON object.")
    return data


def load_body(schema: Schema) -> dict[str, Any]:
    try:
        return schema.load(json_object())
    except ValidationError as error:
        raise _invalid(422, "The request body is invalid.", error) from None


def load_document_or_body(schema: Schema, field: str, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """An XML body (``XML_TYPES``) becomes ``field`` and the query string supplies the other fields, validated
    as a body (422, unknown parameters refused); any other request is read by ``load_body``."""
    if request.mimetype not in XML_TYPES:
        return load_body(schema)
    try:
        document = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiProblem(400, "bad_request", "The XML document must be encoded in UTF-8.") from None
    try:
        return schema.load({**_query_args(lists), field: document})
    except ValidationError as error:
        raise _invalid(422, "The request is invalid.", error) from None


def _query_args(lists: tuple[str, ...]) -> dict[str, Any]:
    args: dict[str, Any] = request.args.to_dict()
    for name in lists:
        if name in request.args:
            args[name] = [
                v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()
            ]
    return args


def load_query(schema: Schema, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """``lists`` names parameters that take several values, repeated (``?type=a&type=b``) or comma-separated
    (``?type=a,b``); they load as lists of strings."""
    try:
        return schema.load(_query_args(lists), unknown=EXCLUDE)
    except ValidationError as error:
        raise _invalid(400, "A query parameter is invalid.", error) from None


def _invalid(status: int, detail: str, error: ValidationError) -> ApiProblem:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return ApiProblem(status, "validation_failed", detail, title="Validation failed", errors=messages)
