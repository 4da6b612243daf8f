"""Count the SQL a piece of code costs, like Django's ``assertNumQueries``: the statements sent to the database
(transaction control such as ``BEGIN``/``COMMIT``/``SAVEPOINT`` left out, since drivers send it differently) and
the transactions begun. Tests pin a budget with it; a change that makes a hot path do more fails, naming every
statement it sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Counted:
    dialect: str
    statements: list[str] = field(default_factory=list)
    """The SQL sent, in order, whole (a query-plan test explains it with its ``parameters``)."""
    parameters: list[Any] = field(default_factory=list)
    transactions: int = 0

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


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[Counted]:
    counted = Counted(engine.dialect.name)

    def on_execute(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(_CONTROL):
            counted.statements.append(statement)
            counted.parameters.append(params)

    def on_begin(_conn) -> None:  # type: ignore[no-untyped-def]
        counted.transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
