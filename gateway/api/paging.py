"""Paging for every list endpoint: ``?page=`` (from 1) and ``?per_page=`` (1 to 200, default 50).

A page answers ``{"items": [...], "total", "page", "per_page", "links": {"self", "next", "prev"}}`` with
absolute links under the configured public URL (``null`` when there is no such page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import Schema, fields, validate

from gateway.wiring import settings

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50


class PageQuery(Schema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Int(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @classmethod
    def of(cls, query: dict[str, Any]) -> Paging:
        return cls(query["page"], query["per_page"])

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        return self.per_page

    def window(self, items: Sequence[Any]) -> tuple[list[Any], int]:
        """This page of a list a service returns whole (for collections that are small by nature)."""
        return list(items[self.offset : self.offset + self.per_page]), len(items)

    def body(self, items: Sequence[Any], total: int, dump: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        last = max(1, -(-total // self.per_page))
        return {
            "items": [dump(item) for item in items],
            "total": total,
            "page": self.page,
            "per_page": self.per_page,
            "links": {
                "self": self._link(self.page),
                "next": self._link(self.page + 1) if self.page < last else None,
                "prev": self._link(min(self.page - 1, last)) if self.page > 1 else None,
            },
        }

    def _link(self, page: int) -> str:
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page")]
        args += [("page", str(page)), ("per_page", str(self.per_page))]
        return settings().url(request.path) + "?" + urlencode(args)
