"""Cursor pagination of SCIM lists (RFC 9865), next to the index pagination of RFC 7644.

A client asks for it with the ``cursor`` parameter (empty for the first page) on ``GET /Users``, ``/Groups``
or their ``/.search``, and follows ``nextCursor`` (or ``previousCursor``) with the query otherwise
unchanged. Without ``sortBy`` a cursor is a keyset position, the ``(created_at, id)`` of the last (or first)
resource of the page, so every page is one index range scan whatever its depth; with ``sortBy`` it carries the
index of the next page (served like a ``startIndex`` page). Cursors are sealed (``CursorBox``) for the
organization and the exact query (endpoint, filter, sortBy, sortOrder): another query, another
organization's token or an altered cursor is answered 400 ``invalidCursor``, one older than
``CURSOR_TIMEOUT`` 400 ``expiredCursor``.

Whether another page exists is known exactly: a page asks for one resource more than it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.domain.groups import Query
from gateway.services.cursors import CursorBox, InvalidCursor, scope_of
from scim import discovery
from scim.errors import ScimError
from scim.schema import LIST_URN, InvalidValue

Key = tuple[datetime, str]
Fetch = Callable[[Query], tuple[list[tuple[dict[str, Any], Key]], int]]


@dataclass(frozen=True)
class CursorPage:
    documents: list[dict[str, Any]]
    total: int
    next: str | None
    previous: str | None


def _arg(args: Mapping[str, Any], name: str) -> Any:
    return next((v for k, v in args.items() if k.lower() == name.lower()), None)


def requested(args: Mapping[str, Any]) -> bool:
    return _arg(args, "cursor") is not None


def scope(org_id: str, endpoint: str, args: Mapping[str, Any]) -> str:
    sort_by = _arg(args, "sortBy")
    order = _arg(args, "sortOrder")
    return scope_of(
        org_id,
        endpoint,
        _arg(args, "filter"),
        str(sort_by).lower() if sort_by else None,
        str(order or "ascending").lower() if sort_by else None,
    )


def _key(value: Any) -> Key:
    try:
        created, resource_id = value
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or not isinstance(resource_id, str):
            raise ValueError
        return when, resource_id
    except (TypeError, ValueError):
        raise InvalidCursor("The cursor is damaged.") from None


def _seal(box: CursorBox, scope_: str, now: datetime, kind: str, value: Any) -> str:
    if kind in ("a", "b"):
        value = [value[0].isoformat(), value[1]]
    return box.seal(scope_, {kind: value}, now)


def page(
    fetch: Fetch,
    query: Query,
    args: Mapping[str, Any],
    box: CursorBox | None,
    scope_: str,
    now: datetime,
) -> CursorPage:
    """Serve one cursor page of ``query``; ``fetch`` lists (document, key) pairs and the total."""
    if box is None:
        raise ScimError(400, "Cursor pagination is not available on this endpoint.", "invalidValue")
    if _arg(args, "startIndex") not in (None, ""):
        raise InvalidValue(
            "Use either startIndex (index pagination) or cursor (cursor pagination), not both."
        )
    count = query.limit
    if _arg(args, "count") not in (None, "") and count < 1:
        raise ScimError(
            400, f"count must be between 1 and {discovery.MAX_RESULTS} with a cursor.", "invalidCount"
        )
    token = _arg(args, "cursor")
    if not isinstance(token, str):
        raise InvalidCursor("The cursor must be a string.")
    position = box.open(token, scope_, now) if token else {}
    if not isinstance(position, dict) or len(position) > 1:
        raise InvalidCursor("The cursor is damaged.")
    if query.sort is not None:
        return _indexed(fetch, query, box, scope_, now, position, count)
    if "b" in position:
        rows, total = fetch(replace(query, offset=0, limit=count + 1, before=_key(position["b"])))
        earlier = len(rows) > count
        rows = rows[1:] if earlier else rows
        return CursorPage(
            [doc for doc, _ in rows],
            total,
            _seal(box, scope_, now, "a", rows[-1][1]) if rows else None,
            _seal(box, scope_, now, "b", rows[0][1]) if rows and earlier else None,
        )
    after = _key(position["a"]) if "a" in position else None
    if position and after is None:
        raise InvalidCursor("The cursor is damaged.")
    rows, total = fetch(replace(query, offset=0, limit=count + 1, after=after))
    later = len(rows) > count
    rows = rows[:count]
    return CursorPage(
        [doc for doc, _ in rows],
        total,
        _seal(box, scope_, now, "a", rows[-1][1]) if later and rows else None,
        _seal(box, scope_, now, "b", rows[0][1]) if after is not None and rows else None,
    )


def _indexed(
    fetch: Fetch,
    query: Query,
    box: CursorBox,
    scope_: str,
    now: datetime,
    position: dict[str, Any],
    count: int,
) -> CursorPage:
    offset = position.get("i", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or set(position) - {"i"}:
        raise InvalidCursor("The cursor is damaged.")
    rows, total = fetch(replace(query, offset=offset, limit=count + 1))
    later = len(rows) > count
    return CursorPage(
        [doc for doc, _ in rows[:count]],
        total,
        _seal(box, scope_, now, "i", offset + count) if later else None,
        _seal(box, scope_, now, "i", max(0, offset - count)) if offset > 0 else None,
    )


def list_response(resources: list[dict[str, Any]], result: CursorPage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [LIST_URN],
        "totalResults": result.total,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
    if result.next is not None:
        body["nextCursor"] = result.next
    if result.previous is not None:
        body["previousCursor"] = result.previous
    return body
