"""Count the SQL statements an engine runs, Django ``assertNumQueries`` style: a budget, never a timing.

    with count_statements(engine) as counted:
        client.get("/scim/v2/Users?filter=...")
    assert counted.count <= 3, counted.report()

Every ``before_cursor_execute`` on the engine counts (BEGIN/SAVEPOINT issued by the driver do not reach it;
the SQLite ``BEGIN IMMEDIATE`` the engine sends itself does). ``statements`` keeps the SQL text, in order,
for the failure message. Usable from any test module (``from statement_counter import count_statements``,
``tests/`` is on ``sys.path``) or wrapped in a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def matching(self, fragment: str) -> list[str]:
        """The statements whose SQL contains ``fragment`` (case-insensitive)."""
        return [s for s in self.statements if fragment.lower() in s.lower()]

    def report(self) -> str:
        lines = [f"{self.count} statements:"]
        lines += [f"  {i + 1}. {' '.join(s.split())[:400]}" for i, s in enumerate(self.statements)]
        return "\n".join(lines)


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[Counted]:
    counted = Counted()

    def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        counted.statements.append(statement)
        counted.parameters.append(parameters)

    event.listen(engine, "before_cursor_execute", _before)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", _before)
