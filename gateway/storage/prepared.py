"""Hot statements compiled once per dialect and sent as driver SQL.

``Connection.execute`` of a cached statement still walks the statement for its cache key, looks the compiled
form up and builds an execution context from it on every call: about as much Python as SQLite spends running
an INSERT. The writes of a hot path (a SCIM create sends six or seven) are fixed statements whose parameters
change, so each is compiled once for the dialect here and then sent with ``Connection.exec_driver_sql``, its
values passed through the same bind processors SQLAlchemy applies (dates, enums, JSON).

``exec_driver_sql`` keeps the cursor events (the statement counters of the tests) and SQLAlchemy's exception
wrapping (a unique violation is still an ``IntegrityError``), but not the ``before_execute`` event: the caller
takes what that hook would (SQLite's write lock, ``gateway.storage.first_write``; ``Store.send`` does). Its results
are not type-processed, so it is for writes and for ``RETURNING`` columns whose driver values are what the caller
wants (integers, booleans).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for one dialect: its SQL, its bound parameters in order and their processors."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Processor, ...]
    positional: bool
    defaults: Mapping[str, Any]
    """Values of columns the row may leave out: their scalar ``default`` (what SQLAlchemy would send)."""

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.defaults:
            row = {**self.defaults, **row}
        processed = [
            value if process is None or value is None else process(value)
            for value, process in zip((row[name] for name in self.names), self.processors, strict=True)
        ]
        return tuple(processed) if self.positional else dict(zip(self.names, processed, strict=True))


@functools.lru_cache(maxsize=512)
def prepared(statement: sa.Executable, dialect: sa.Dialect) -> Prepared | None:
    """The compiled form of ``statement`` (a statement built once, with bound parameters and no values), or
    ``None`` for one that needs SQLAlchemy at each execution (a column default computed per row)."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if getattr(compiled, "escaped_bind_names", None):
        return None
    defaults: dict[str, Any] = {}
    for column in getattr(compiled, "insert_prefetch", ()):
        default = column.default
        if default is None or not default.is_scalar:
            return None
        defaults[column.key] = default.arg
    binds = compiled.binds  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)  # type: ignore[attr-defined]
    processors = tuple(_processor(binds[name].type, dialect) for name in names)
    return Prepared(compiled.string, names, processors, bool(compiled.positional), defaults)


def _processor(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> Processor:
    return type_.dialect_impl(dialect).bind_processor(dialect)


def run(
    conn: sa.Connection, statement: sa.Executable, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> CursorResult[Any]:
    """Send ``statement`` with one row of values, or a list of them (one ``executemany``)."""
    form = prepared(statement, conn.dialect)
    if form is None:
        return conn.execute(statement, rows)  # type: ignore[arg-type]
    if isinstance(rows, Mapping):
        return conn.exec_driver_sql(form.sql, form.values(rows))  # type: ignore[arg-type]
    return conn.exec_driver_sql(form.sql, [form.values(row) for row in rows])  # type: ignore[arg-type]
