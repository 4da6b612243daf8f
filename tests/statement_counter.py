"""Count the SQL a piece of code costs, like Django's ``assertNumQueries``: the statements sent to the database
(transaction control such as ``BEGIN``/``COMMIT``/``SAVEPOINT`` left out, since drivers send it differently) and
the transactions begun. Tests pin a budget with it; a change that makes a hot path do more fails, naming every
statement it sent. It also notes the statements SQLAlchemy compiled for this call instead of taking them from
its compiled cache (a construct without a cache key, such as a multi-row ``VALUES``, is compiled every time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Counted:
    dialect: str
    statements: list[str] = field(default_factory=list)
    """The SQL sent, in order, whole (a query-plan test explains it with its ``parameters``)."""
    parameters: list[Any] = field(default_factory=list)
    transactions: int = 0
    compiled: list[str] = field(default_factory=list)
    """The statements compiled for this call (not found in SQLAlchemy's compiled cache)."""

    @property
    def count(self) -> int:
        return len(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def matching(self, fragment: str) -> list[str]:
        """The statements whose SQL contains ``fragment`` (case-insensitive)."""
        return [s for s in self.statements if fragment.lower() in s.lower()]

    def report(self) -> str:
        lines = "\n".join(f"  {i + 1}. {' '.join(s.split())[:160]}" for i, s in enumerate(self.statements))
        return f"{len(self.statements)} statements in {self.transactions} transaction(s):\n{lines}"

    def within(self, statements: int | dict[str, int], transactions: int | None = None) -> None:
        """Fail unless the code stayed within the budget (one number, or one per dialect: on PostgreSQL some
        paths send a lock statement that SQLite, which serializes writers, does without)."""
        if isinstance(statements, dict):
            statements = statements[self.dialect]
        assert len(self.statements) <= statements, f"over the budget of {statements}: {self.report()}"
        if transactions is not None:
            assert self.transactions <= transactions, (
                f"over the budget of {transactions} transaction(s): {self.report()}"
            )

    def all_cached(self) -> None:
        """Fail if SQLAlchemy had to compile a statement (a path already run once should find every one of its
        statements in the compiled cache)."""
        lines = "\n".join(f"  {' '.join(s.split())[:160]}" for s in self.compiled)
        assert not self.compiled, f"{len(self.compiled)} statement(s) compiled afresh:\n{lines}"


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[Counted]:
    counted = Counted(engine.dialect.name)

    def on_execute(_conn, _cursor, statement, params, context, _many) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(_CONTROL):
            counted.statements.append(statement)
            counted.parameters.append(params)
            # A write sent to SQLite's cursor directly has no context (``gateway.storage.prepared``): not compiled.
            compiled = context is not None and context.compiled is not None
            if compiled and context.cache_hit is not CacheStats.CACHE_HIT:
                counted.compiled.append(statement)

    def on_begin(_conn) -> None:  # type: ignore[no-untyped-def]
        counted.transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
