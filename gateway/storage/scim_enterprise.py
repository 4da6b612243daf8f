"""Filtering and sorting SCIM users on attributes kept in ``members.attributes`` (JSON): the enterprise
extension (``department``, ``employeeNumber``, ``costCenter``, ``organization``, ``division``,
``manager.value``), ``title`` and ``phoneNumbers`` (``phoneNumbers[type eq "work"].value``).

These are additions to ``scim_store``'s user filter compiler: ``user_json_fields`` returns more ``Field``s
(keyed as the compiler keys them: ``<urn>:<attr>[.<sub>]`` for the extension, plain names for core attributes)
and ``phone_numbers`` a ``MultiField`` over the JSON array. The JSON is read with the dialect's own functions
(SQLite ``json_extract`` / ``json_each``, PostgreSQL ``->>`` / ``json_array_elements``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
_ENTERPRISE_NAME = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE_ATTRIBUTES = {
    "department": ("department",),
    "employeenumber": ("employeeNumber",),
    "costcenter": ("costCenter",),
    "organization": ("organization",),
    "division": ("division",),
    "manager.value": ("manager", "value"),
}


def json_text(column: sa.ColumnElement[Any], path: tuple[str, ...], dialect: str) -> sa.ColumnElement[Any]:
    """The text at ``path`` inside a JSON column (NULL when absent)."""
    if dialect == "sqlite":
        quoted = "".join(f'."{key}"' for key in path)
        return sa.func.json_extract(column, f"${quoted}")
    expr: Any = column
    for key in path[:-1]:
        expr = expr.op("->")(sa.literal(key))
    return expr.op("->>")(sa.literal(path[-1]))


def user_json_expressions(
    attributes: sa.ColumnElement[Any], dialect: str
) -> dict[str, sa.ColumnElement[Any]]:
    """Compiler key -> expression for the scalar attributes kept in ``members.attributes``."""
    found = {"title": json_text(attributes, ("title",), dialect)}
    for key, path in ENTERPRISE_ATTRIBUTES.items():
        found[f"{ENTERPRISE_URN}:{key}"] = json_text(attributes, (_ENTERPRISE_NAME, *path), dialect)
    return found


def user_sort_columns(attributes: sa.ColumnElement[Any], dialect: str) -> dict[str, Any]:
    return {key: sa.func.lower(expr) for key, expr in user_json_expressions(attributes, dialect).items()}


def phone_numbers(
    attributes: sa.ColumnElement[Any], dialect: str
) -> tuple[Callable[[sa.ColumnElement[bool]], sa.ColumnElement[bool]], dict[str, sa.ColumnElement[Any]]]:
    """``exists_from(where)`` over the elements of ``attributes.phoneNumbers`` and their sub-attributes."""
    if dialect == "sqlite":
        elements = sa.func.json_each(attributes, "$.phoneNumbers").table_valued("value").alias("phone")
        value = elements.c.value

        def sub(name: str) -> sa.ColumnElement[Any]:
            return sa.func.json_extract(value, f"$.{name}")
    else:
        source = sa.func.coalesce(attributes.op("->")(sa.literal("phoneNumbers")), sa.cast("[]", sa.JSON))
        elements = sa.func.json_array_elements(source).table_valued("value").alias("phone")
        value = elements.c.value

        def sub(name: str) -> sa.ColumnElement[Any]:
            return value.op("->>")(sa.literal(name))

    def exists_from(where: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        return sa.exists(sa.select(sa.literal(1)).select_from(elements).where(where))

    return exists_from, {"value": sub("value"), "type": sub("type"), "display": sub("display")}
