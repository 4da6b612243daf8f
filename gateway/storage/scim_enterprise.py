"""Filtering and sorting SCIM users on attributes kept in ``members.attributes`` (JSON): the enterprise
extension (``department``, ``employeeNumber``, ``costCenter``, ``organization``, ``division``,
``manager.value``), ``title`` and ``phoneNumbers`` (``phoneNumbers[type eq "work"].value``).

These are additions to ``scim_store``'s user filter compiler: ``user_json_fields`` returns more ``Field``s
(keyed as the compiler keys them: ``<urn>:<attr>[.<sub>]`` for the extension, plain names for core attributes)
and ``phone_numbers`` a ``MultiField`` over the JSON array. The JSON is read with the dialect's own functions
(SQLite ``json_extract`` / ``json_each``, PostgreSQL ``->>`` / ``json_array_elements``).

The JSON paths are written into the SQL as literals (:class:`JsonPathText`), never bound: an expression index
serves a query only when the query spells the indexed expression exactly, which a bound path is not (SQLite
never matches it; PostgreSQL only in custom plans). ``LOOKUP_INDEXES`` are the attributes vendors look users up
by (Okta and Entra ID match on ``employeeNumber``; org charts walk ``manager.value``): ``scim_tables`` indexes
``(org_id, lower(<path>))`` for them, the same expression the filter compiler emits for ``eq``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

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


# Attributes with an index on (org_id, lower(value)) for `eq` lookups (see scim_tables).
LOOKUP_INDEXES = {
    "ix_members_org_employee_number": "employeenumber",
    "ix_members_org_manager": "manager.value",
}


class JsonPathText(FunctionElement[str]):
    """The text at a constant path inside a JSON column, with the path as SQL literals (see the module's
    docstring): ``json_extract(col, '$."a"."b"')`` on SQLite, ``(col -> 'a') ->> 'b'`` on PostgreSQL."""

    type = sa.String()
    inherit_cache = True
    name = "json_path_text"

    def __init__(self, column: sa.ColumnElement[Any], *path: str) -> None:
        if not path or any(not key or "'" in key or '"' in key for key in path):
            raise ValueError(f"not a constant JSON path: {path!r}")
        super().__init__(column, *(sa.literal_column(f"'{key}'") for key in path))


def _parts(element: JsonPathText, compiler: SQLCompiler, **kw: Any) -> tuple[str, list[str]]:
    column, *keys = element.clauses.clauses
    return compiler.process(column, **kw), [key.name[1:-1] for key in keys]  # type: ignore[attr-defined]


@compiles(JsonPathText, "sqlite")
def _sqlite_json_path_text(element: JsonPathText, compiler: SQLCompiler, **kw: Any) -> str:
    column, keys = _parts(element, compiler, **kw)
    path = "$" + "".join(f'."{key}"' for key in keys)
    return f"json_extract({column}, '{path}')"


@compiles(JsonPathText, "postgresql")
def _postgresql_json_path_text(element: JsonPathText, compiler: SQLCompiler, **kw: Any) -> str:
    sql, keys = _parts(element, compiler, **kw)
    for key in keys[:-1]:
        sql = f"({sql} -> '{key}')"
    return f"{sql} ->> '{keys[-1]}'"


def json_text(column: sa.ColumnElement[Any], path: tuple[str, ...]) -> sa.ColumnElement[Any]:
    """The text at ``path`` inside a JSON column (NULL when absent)."""
    return JsonPathText(column, *path)


def enterprise_text(attributes: sa.ColumnElement[Any], key: str) -> sa.ColumnElement[Any]:
    """The enterprise extension's attribute ``key`` (a key of ``ENTERPRISE_ATTRIBUTES``)."""
    return json_text(attributes, (_ENTERPRISE_NAME, *ENTERPRISE_ATTRIBUTES[key]))


def user_json_expressions(
    attributes: sa.ColumnElement[Any], dialect: str
) -> dict[str, sa.ColumnElement[Any]]:
    """Compiler key -> expression for the scalar attributes kept in ``members.attributes`` (``dialect`` is not
    needed any more, :class:`JsonPathText` compiles per dialect; the callers still pass it)."""
    found = {"title": json_text(attributes, ("title",))}
    for key in ENTERPRISE_ATTRIBUTES:
        found[f"{ENTERPRISE_URN}:{key}"] = enterprise_text(attributes, key)
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
