"""Which uniqueness rule a refused write broke, so it can be answered as the domain error it stands for.

Uniqueness is left to the database (two processes checking first and then writing would both pass the check):
a service registers the error a constraint stands for, and ``Database`` raises it when a commit or a flush is
refused. PostgreSQL names the constraint; SQLite names an index (``index 'x'``) or the columns of an unnamed
constraint (``members.org_id, members.email``), so a rule is registered under both spellings.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa

from gateway.domain.errors import DomainError

ErrorFactory = Callable[[], DomainError]

_REGISTRY: dict[str, ErrorFactory] = {}
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '([^']+)'")
_SQLITE_COLUMNS = re.compile(r"UNIQUE constraint failed: (.+)$")


def register_constraint_error(names: tuple[str, ...], factory: ErrorFactory) -> None:
    """Answer a violation of the constraint known by any of ``names`` with ``factory()``."""
    for name in names:
        _REGISTRY[name] = factory


def violated_constraint(exc: sa.exc.IntegrityError) -> str | None:
    """The name (PostgreSQL, SQLite index) or the column list (SQLite) of the constraint ``exc`` reports."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    message = str(exc.orig)
    found = _SQLITE_INDEX.search(message)
    if found:
        return found.group(1)
    found = _SQLITE_COLUMNS.search(message)
    return found.group(1).strip() if found else None


def domain_error_for(exc: sa.exc.IntegrityError) -> DomainError | None:
    name = violated_constraint(exc)
    factory = _REGISTRY.get(name or "")
    return factory() if factory is not None else None
