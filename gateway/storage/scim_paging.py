"""One page of a SCIM list, at a cost that does not grow with the organization.

- The page's ids come first, from the ``(org_id, created_at, id ...)`` index in list order (an index-only scan
  when nothing else is filtered), and only those rows are then read whole (a deferred join): a middle
  ``startIndex`` page skips index entries, not rows.
- A keyset page (``Query.after`` / ``Query.before``, the SCIM cursor) starts from a position in that index
  instead of skipping entries: the thousandth page costs what the first does.
- ``totalResults`` must be exact (RFC 7644), but it is counted only when the page does not tell it: a page
  shorter than asked for, with rows in it (or the first page), ends the list, so the total is
  ``offset + len(rows)``. Otherwise the caller's ``total`` tells it (an unfiltered list's kept size,
  ``gateway.storage.count_tables``), or one ``count(*)`` runs, which the same indexes answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def list_page(
    session: Session,
    entity: type[Any],
    table: sa.Table,
    where: Sequence[sa.ColumnElement[bool]],
    sort: sa.ColumnElement[Any] | None,
    query: Any,
    total: Callable[[], int] | None = None,
) -> tuple[list[Any], int]:
    keyset = query.after is not None or query.before is not None
    if keyset and sort is not None:
        raise ValueError("a keyset page follows the list order (created_at, id); it cannot be sorted")
    key = sa.tuple_(table.c.created_at, table.c.id)
    order: list[Any] = [table.c.created_at.asc(), table.c.id.asc()]
    if sort is not None:
        order.insert(0, sort)
    rows: list[Any] = []
    if query.limit > 0:
        ids = sa.select(table.c.id).where(*where)
        if query.after is not None:
            ids = ids.where(key > tuple(query.after)).order_by(*order)
        elif query.before is not None:
            ids = ids.where(key < tuple(query.before)).order_by(table.c.created_at.desc(), table.c.id.desc())
        else:
            ids = ids.order_by(*order).offset(query.offset)
        page = ids.limit(query.limit).subquery("page")
        rows = list(session.scalars(sa.select(entity).join(page, table.c.id == page.c.id).order_by(*order)))
    fetched = len(rows)
    if not keyset and fetched < query.limit and (fetched > 0 or query.offset == 0):
        return rows, query.offset + fetched
    if total is not None:
        return rows, total()
    counted = session.scalar(sa.select(sa.func.count()).select_from(table).where(*where))
    return rows, int(counted or 0)
