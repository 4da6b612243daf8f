"""Small helpers the console's forms share: reading fields, errors next to fields, and paging."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import request

from gateway.domain.errors import DomainError

PAGE_SIZE = 50


def text(name: str, limit: int = 2000) -> str:
    """A trimmed form field, cut to ``limit`` characters (no form field is longer than that)."""
    return (request.form.get(name) or "").strip()[:limit]


def checked(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true", "yes")


def field_errors(error: DomainError, default_field: str) -> dict[str, str]:
    """The error keyed by the form field it is about (the domain names it in ``details['field']``)."""
    return {str(error.details.get("field") or default_field): error.message}


@dataclass(frozen=True)
class Page:
    """One page of a long list: ``?page=N`` (1-based) over ``total`` items, keeping the other query args."""

    number: int
    size: int
    total: int

    @classmethod
    def from_request(cls, total: int | None = None, size: int = PAGE_SIZE) -> Page:
        try:
            number = max(1, int(request.args.get("page", "1")))
        except ValueError:
            number = 1
        return cls(number, size, total or 0)

    def with_total(self, total: int) -> Page:
        return Page(self.number, self.size, total)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_item(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.size)

    def url(self, number: int) -> str:
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        args["page"] = str(number)
        return request.path + "?" + urlencode(args)
