"""Paging for every list endpoint: ``?page=`` (from 1) and ``?per_page=`` (1 to 200, default 50), or a keyset
``?cursor=`` on the long lists (members, invitations, audit events).

A page answers ``{"items": [...], "total", "page", "per_page", "next_cursor", "links": {"self", "next",
"prev"}}`` with absolute links under the configured public URL (``null`` when there is no such page).

``page`` costs grow with the page number (the rows before it are skipped), and ``total`` is an exact count
(not run when the page itself ends the list). A ``cursor`` page costs the same at any depth and has no
``total`` (``null``): send ``cursor=`` (empty) for the first page, then the ``next_cursor`` of each page (also
given by ``page`` answers, to switch over); ``links.next`` is that request. Cursors are opaque, sealed for the
organization and the filters of the request, and expire after ``CURSOR_LIFETIME``; an altered, foreign or
expired one is a 400 ``invalid-cursor`` problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from marshmallow import Schema, fields, validate

from gateway.api.auth import principal
from gateway.services.cursors import CursorBox, InvalidCursor, scope_of
from gateway.wiring import services, settings

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
CURSOR_LIFETIME = timedelta(hours=24)
_PAGING_ARGS = ("page", "per_page", "cursor")


class PageQuery(Schema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Int(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class KeysetPageQuery(PageQuery):
    """The paging of a list that can also be read by keyset (``?cursor=``)."""

    cursor = fields.Str(validate=validate.Length(max=2048))


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    cursor: str | None = None

    @classmethod
    def of(cls, query: dict[str, Any]) -> Paging:
        return cls(query["page"], query["per_page"], query.get("cursor"))

    @property
    def keyset(self) -> bool:
        return self.cursor is not None

    @property
    def offset(self) -> int:
        return 0 if self.keyset else (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        """Rows to ask for: one more than a page in keyset mode, to know whether another page follows."""
        return self.per_page + 1 if self.keyset else self.per_page

    def after(self, *types: type) -> tuple[Any, ...] | None:
        """The list position the cursor continues from, its values checked against ``types`` (``None``:
        an offset page, or the first keyset page)."""
        if not self.cursor:
            return None
        values = _box().open(self.cursor, _scope(), services().clock())
        if not isinstance(values, list) or len(values) != len(types):
            raise InvalidCursor("The cursor is damaged.")
        return tuple(_decode(value, kind) for value, kind in zip(values, types, strict=True))

    def window(self, items: Sequence[Any]) -> tuple[list[Any], int]:
        """This page of a list a service returns whole (for collections that are small by nature)."""
        return list(items[self.offset : self.offset + self.per_page]), len(items)

    def body(
        self,
        items: Sequence[Any],
        total: int | None,
        dump: Callable[[Any], dict[str, Any]],
        key: Callable[[Any], tuple[Any, ...]] | None = None,
    ) -> dict[str, Any]:
        """The page; ``key`` (the list-order position of an item) makes ``next_cursor``."""
        if self.keyset:
            more = len(items) > self.per_page
            items = list(items[: self.per_page])
            following = _seal(key(items[-1])) if key is not None and more and items else None
            return {
                "items": [dump(item) for item in items],
                "total": None,
                "page": None,
                "per_page": self.per_page,
                "next_cursor": following,
                "links": {
                    "self": self._cursor_link(self.cursor or ""),
                    "next": self._cursor_link(following) if following else None,
                    "prev": None,
                },
            }
        count = total or 0
        last = max(1, -(-count // self.per_page))
        has_next = self.page < last
        return {
            "items": [dump(item) for item in items],
            "total": count,
            "page": self.page,
            "per_page": self.per_page,
            "next_cursor": _seal(key(items[-1])) if key is not None and has_next and items else None,
            "links": {
                "self": self._link(self.page),
                "next": self._link(self.page + 1) if has_next else None,
                "prev": self._link(min(self.page - 1, last)) if self.page > 1 else None,
            },
        }

    def _link(self, page: int) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in _PAGING_ARGS]
        args += [("page", str(page)), ("per_page", str(self.per_page))]
        return settings().url(request.path) + "?" + urlencode(args)

    def _cursor_link(self, cursor: str) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in _PAGING_ARGS]
        args += [("cursor", cursor), ("per_page", str(self.per_page))]
        return settings().url(request.path) + "?" + urlencode(args)


def _box() -> CursorBox:
    return CursorBox(current_app.config["SECRET_KEY"], "api", CURSOR_LIFETIME)


def _scope() -> str:
    """The organization, the endpoint and its filters: a cursor continues only the query it came from."""
    filters = sorted((k, v) for k, v in request.args.items(multi=True) if k not in _PAGING_ARGS)
    return scope_of(principal().org.id, request.path, filters)


def _seal(position: tuple[Any, ...]) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in position]
    return _box().seal(_scope(), values, services().clock())


def _decode(value: Any, kind: type) -> Any:
    if kind is datetime and isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when
    elif isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise InvalidCursor("The cursor is damaged.")
