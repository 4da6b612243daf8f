"""The monthly statement: one bill per calendar month (UTC) that adds up to the ledger, and its exports.

``opening_balance + purchased - used == closing_balance``; ``purchased`` and ``used`` are the sums of the month's
ledger lines, which the statement lists in full; usage by project and by member, and purchases by member, each
add up to the month's totals. The CSV and JSON exports carry the same numbers (the console, the API and the CLI
all hand out these two renderings)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.domain import model as m


@dataclass(frozen=True)
class StatementLine:
    entry: m.CreditEntry
    member_email: str | None
    project_name: str | None


@dataclass(frozen=True)
class Share:
    """Credits attributed to one project or one member."""

    id: str | None
    label: str | None
    credits: int


@dataclass(frozen=True)
class Statement:
    org_id: str
    org_name: str
    year: int
    month: int
    since: datetime
    until: datetime
    opening_balance: int
    purchased: int
    used: int
    usage_by_project: list[Share]
    usage_by_member: list[Share]
    purchases_by_member: list[Share]
    lines: list[StatementLine]

    @property
    def closing_balance(self) -> int:
        return self.opening_balance + self.purchased - self.used

    @property
    def period(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _shares(items: list[Share], key: str) -> list[dict[str, Any]]:
    return [
        {f"{key}_id": s.id, key if key != "member" else "email": s.label, "credits": s.credits} for s in items
    ]


def statement_dict(value: Statement) -> dict[str, Any]:
    return {
        "organization": {"id": value.org_id, "name": value.org_name},
        "period": value.period,
        "since": _iso(value.since),
        "until": _iso(value.until),
        "opening_balance": value.opening_balance,
        "purchased": value.purchased,
        "used": value.used,
        "closing_balance": value.closing_balance,
        "usage_by_project": _shares(value.usage_by_project, "project"),
        "usage_by_member": _shares(value.usage_by_member, "member"),
        "purchases_by_member": _shares(value.purchases_by_member, "member"),
        "lines": [
            {
                "id": line.entry.id,
                "at": _iso(line.entry.created_at),
                "kind": line.entry.kind.value,
                "credits": line.entry.credits,
                "member_id": line.entry.member_id,
                "member_email": line.member_email,
                "project_id": line.entry.project_id,
                "project_name": line.project_name,
                "description": line.entry.description,
            }
            for line in value.lines
        ],
    }


CSV_COLUMNS = ("at", "kind", "credits", "member_email", "project_name", "description", "id")


def _cell(value: object) -> str:
    """Spreadsheet-safe text: a cell starting with = + - @ (or a tab/CR) would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def statement_csv(value: Statement) -> str:
    """The ledger lines of the month, then the totals, as CSV (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["statement", value.org_name, value.period])
    writer.writerow(CSV_COLUMNS)
    for row in statement_dict(value)["lines"]:
        writer.writerow([_cell(row[c]) if c not in ("credits",) else row[c] for c in CSV_COLUMNS])
    writer.writerow([])
    for label, amount in (
        ("opening_balance", value.opening_balance),
        ("purchased", value.purchased),
        ("used", value.used),
        ("closing_balance", value.closing_balance),
    ):
        writer.writerow(["total", label, amount])
    for share in value.usage_by_project:
        writer.writerow(["usage_by_project", _cell(share.label or "(deleted project)"), share.credits])
    for share in value.usage_by_member:
        writer.writerow(["usage_by_member", _cell(share.label), share.credits])
    for share in value.purchases_by_member:
        writer.writerow(["purchases_by_member", _cell(share.label), share.credits])
    return out.getvalue()
