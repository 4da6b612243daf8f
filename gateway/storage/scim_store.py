"""Storage for SCIM provisioning: org-scoped queries on users (members) and groups, and the compiler that turns
a parsed SCIM filter into a SQLAlchemy expression (bound parameters only, never SQL built from strings).

Every method takes the organization id and filters by it; a row of another organization is never returned,
counted or changed. Removed members are invisible to SCIM (a deleted user answers 404).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gateway.domain import groups as g
from gateway.domain import model as m
from gateway.storage import count_tables as counts
from gateway.storage import hot_statements as hot
from gateway.storage.scim_enterprise import phone_numbers, user_json_expressions, user_sort_columns
from gateway.storage.scim_paging import list_page
from gateway.storage.scim_tables import (
    map_scim_entities,
    scim_group_members,
    scim_group_role_mappings,
    scim_groups,
    scim_user_emails,
)
from gateway.storage.store import Store, row_by_column
from gateway.storage.tables import members

map_scim_entities()

CHUNK = 500
PG_CHUNK = 10_000
CORE_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user"
CORE_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group"


# -- the filter compiler -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """How one SCIM attribute is stored: a column expression and how to compare it."""

    column: sa.ColumnElement[Any]
    kind: str = "string"  # string | bool | datetime
    case_exact: bool = False


@dataclass(frozen=True)
class MultiField:
    """A multi-valued attribute stored as rows: ``exists_from(where)`` tests that some row of the resource
    matches ``where`` (an ``IN`` over an org-scoped, indexed subquery); its element sub-attributes are
    ``fields``; ``default`` is the sub-attribute a bare ``emails eq "x"`` compares."""

    exists_from: Callable[[sa.ColumnElement[bool]], sa.ColumnElement[bool]]
    fields: dict[str, Field]
    default: str = "value"


class FilterCompiler:
    """Compiles ``gateway.domain.groups`` filter nodes for one resource type into a WHERE clause."""

    def __init__(
        self, urn: str, fields: dict[str, Field], multi: dict[str, MultiField], dialect: str
    ) -> None:
        self.urn = urn
        self.fields = fields
        self.multi = multi
        self.dialect = dialect

    def compile(self, node: g.Filter) -> sa.ColumnElement[bool]:
        if isinstance(node, g.And):
            return sa.and_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, g.Or):
            return sa.or_(self.compile(node.left), self.compile(node.right))
        if isinstance(node, g.Not):
            return sa.not_(self.compile(node.expr))
        if isinstance(node, g.ValuePath):
            multi = self._multi(node.path)
            if node.path.sub:
                raise g.InvalidFilter(f"{node.path}: a value filter applies to an attribute.")
            return multi.exists_from(self.element(multi, node.expr, str(node.path)))
        path = node.path
        name = self._name(path)
        attr, _, sub = name.partition(".")
        if attr in self.multi:
            multi = self.multi[attr]
            inner = (
                g.Compare(g.AttrPath(sub or multi.default), node.op, node.value)
                if isinstance(node, g.Compare)
                else g.Present(g.AttrPath(sub or multi.default))
            )
            return multi.exists_from(self.element(multi, inner, str(path)))
        field = self.fields.get(name)
        if field is None:
            raise g.InvalidFilter(f"{path} is not an attribute that can be filtered on.")
        return self._leaf(field, node, str(path))

    def _name(self, path: g.AttrPath) -> str:
        return _key(path, self.urn)

    def _multi(self, path: g.AttrPath) -> MultiField:
        multi = self.multi.get(self._name(g.AttrPath(path.attr, None, path.urn)))
        if multi is None:
            raise g.InvalidFilter(f"{path} is not a multi-valued attribute that can be filtered on.")
        return multi

    def element(self, multi: MultiField, node: g.Filter, where: str) -> sa.ColumnElement[bool]:
        """A filter on the elements of one multi-valued attribute (the inside of ``emails[...]``)."""
        if isinstance(node, g.And):
            return sa.and_(self.element(multi, node.left, where), self.element(multi, node.right, where))
        if isinstance(node, g.Or):
            return sa.or_(self.element(multi, node.left, where), self.element(multi, node.right, where))
        if isinstance(node, g.Not):
            return sa.not_(self.element(multi, node.expr, where))
        if isinstance(node, g.ValuePath) or node.path.sub or node.path.urn:
            raise g.InvalidFilter(f"{where}: only sub-attributes can be used inside a value filter.")
        field = multi.fields.get(node.path.attr.lower())
        if field is None:
            raise g.InvalidFilter(
                f"{where}: {node.path.attr} is not a sub-attribute that can be filtered on."
            )
        return self._leaf(field, node, f"{where}.{node.path.attr}")

    def _leaf(self, field: Field, node: g.Compare | g.Present, where: str) -> sa.ColumnElement[bool]:
        column = field.column
        if isinstance(node, g.Present):
            if field.kind == "string":
                return sa.and_(column.is_not(None), column != "")
            return column.is_not(None)
        op, value = node.op, node.value
        if field.kind == "bool":
            if op not in ("eq", "ne") or not isinstance(value, bool):
                raise g.InvalidFilter(f"{where} is a boolean: compare it with eq or ne and true or false.")
            return column == value if op == "eq" else column != value
        if field.kind == "datetime":
            when = _datetime(value, where)
            return _ordered(column, op, when, where)
        if not isinstance(value, str):
            raise g.InvalidFilter(f"{where} is a string: compare it with a quoted string.")
        if not field.case_exact:
            column, value = sa.func.lower(column), value.lower()
        if op in ("co", "sw", "ew"):
            return self._text_match(column, op, value, field.case_exact)
        return _ordered(column, op, value, where)

    def _text_match(
        self, column: sa.ColumnElement[Any], op: str, value: str, case_exact: bool
    ) -> sa.ColumnElement[bool]:
        if not case_exact:
            # Both sides are lower-cased, so LIKE's own case rules (which differ by backend) do not matter.
            pattern = _escape_like(value)
            pattern = {"co": f"%{pattern}%", "sw": f"{pattern}%", "ew": f"%{pattern}"}[op]
            matches = sa.and_(column.is_not(None), column.like(pattern, escape="\\"))
            if op == "sw":
                # The LIKE stays the definition; the range in front of it lets the index on the lower-cased
                # column serve it (neither store plans a bound LIKE pattern as an index range).
                return sa.and_(self._prefix_range(column, value), matches)
            return matches
        size = len(value)
        if op == "sw":
            return sa.func.substr(column, 1, size) == value
        if op == "ew":
            tail = sa.func.substr(column, -size) if self.dialect == "sqlite" else sa.func.right(column, size)
            return sa.and_(sa.func.length(column) >= size, tail == value)
        position = sa.func.instr(column, value) if self.dialect == "sqlite" else sa.func.strpos(column, value)
        return position > 0

    def _prefix_range(self, column: sa.ColumnElement[Any], prefix: str) -> sa.ColumnElement[bool]:
        """``prefix <= column < successor(prefix)`` in byte (code point) order, which holds exactly for the
        strings that start with ``prefix``: SQLite's BINARY collation is that order; on PostgreSQL the
        pattern operators compare that way and ``ix_members_org_user_name_prefix`` serves them."""
        upper = _successor(prefix)
        if self.dialect == "postgresql":
            lower_bound = column.op("~>=~", is_comparison=True)(prefix)
            if upper is None:
                return lower_bound
            return sa.and_(lower_bound, column.op("~<~", is_comparison=True)(upper))
        if upper is None:
            return column >= prefix
        return sa.and_(column >= prefix, column < upper)


def _successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None: there is none)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def _ordered(column: sa.ColumnElement[Any], op: str, value: Any, where: str) -> sa.ColumnElement[bool]:
    if op == "eq":
        return column == value
    if op == "ne":
        return sa.or_(column != value, column.is_(None))
    if op in ("co", "sw", "ew"):
        raise g.InvalidFilter(f"{where}: {op} applies to strings only.")
    return {"gt": column > value, "ge": column >= value, "lt": column < value, "le": column <= value}[op]


def _datetime(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise g.InvalidFilter(
        f'{where} is a date-time: compare it with an RFC 3339 string such as "2026-01-31T12:00:00Z".'
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@functools.cache
def _phone_numbers(dialect: str) -> MultiField:
    exists_from, subs = phone_numbers(members.c.attributes, dialect)
    return MultiField(exists_from, {name: Field(expr) for name, expr in subs.items()})


@functools.cache
def _user_fields(dialect: str) -> dict[str, Field]:
    """The single-valued user attributes a filter can name; built once per dialect (the expressions hold no
    organization), since building the JSON expressions on every lookup cost more than running the query."""
    return {
        "id": Field(members.c.id, case_exact=True),
        "username": Field(members.c.user_name),
        "externalid": Field(members.c.external_id, case_exact=True),
        "displayname": Field(members.c.display_name),
        "name.givenname": Field(members.c.given_name),
        "name.familyname": Field(members.c.family_name),
        "active": Field(members.c.status == m.MemberStatus.ACTIVE.value, kind="bool"),
        "meta.created": Field(members.c.created_at, kind="datetime"),
        "meta.lastmodified": Field(members.c.updated_at, kind="datetime"),
        **{key: Field(expr) for key, expr in user_json_expressions(members.c.attributes, dialect).items()},
    }


@functools.cache
def _user_sortable(dialect: str) -> dict[str, Any]:
    return {**_USER_SORT, **user_sort_columns(members.c.attributes, dialect)}


_GROUP_NAMES = (
    sa.select(scim_groups.c.display_name)
    .where(scim_groups.c.id == scim_group_members.c.group_id)
    .scalar_subquery()
)


def _user_compiler(dialect: str, org_id: str) -> FilterCompiler:
    return FilterCompiler(
        CORE_USER_URN,
        _user_fields(dialect),
        {
            "phonenumbers": _phone_numbers(dialect),
            "emails": MultiField(
                lambda where: members.c.id.in_(
                    sa.select(scim_user_emails.c.member_id).where(scim_user_emails.c.org_id == org_id, where)
                ),
                {
                    "value": Field(scim_user_emails.c.value),
                    "type": Field(scim_user_emails.c.type),
                    "primary": Field(scim_user_emails.c.primary, kind="bool"),
                },
            ),
            "groups": MultiField(
                lambda where: members.c.id.in_(
                    sa.select(scim_group_members.c.member_id).where(
                        scim_group_members.c.org_id == org_id, where
                    )
                ),
                {
                    "value": Field(scim_group_members.c.group_id, case_exact=True),
                    "display": Field(_GROUP_NAMES),
                },
            ),
        },
        dialect,
    )


def _group_compiler(dialect: str, org_id: str) -> FilterCompiler:
    return FilterCompiler(
        CORE_GROUP_URN,
        {
            "id": Field(scim_groups.c.id, case_exact=True),
            "displayname": Field(scim_groups.c.display_name),
            "externalid": Field(scim_groups.c.external_id, case_exact=True),
            "meta.created": Field(scim_groups.c.created_at, kind="datetime"),
            "meta.lastmodified": Field(scim_groups.c.updated_at, kind="datetime"),
        },
        {
            "members": MultiField(
                lambda where: scim_groups.c.id.in_(
                    sa.select(scim_group_members.c.group_id).where(
                        scim_group_members.c.org_id == org_id, where
                    )
                ),
                {
                    "value": Field(scim_group_members.c.member_id, case_exact=True),
                    "display": Field(scim_group_members.c.display),
                },
            ),
        },
        dialect,
    )


_USER_SORT = {
    "id": members.c.id,
    "username": sa.func.lower(members.c.user_name),
    "externalid": members.c.external_id,
    "displayname": sa.func.lower(members.c.display_name),
    "name.givenname": sa.func.lower(members.c.given_name),
    "name.familyname": sa.func.lower(members.c.family_name),
    "emails": members.c.email,
    "emails.value": members.c.email,
    "active": members.c.status,
    "meta.created": members.c.created_at,
    "meta.lastmodified": members.c.updated_at,
}
_GROUP_SORT = {
    "id": scim_groups.c.id,
    "displayname": sa.func.lower(scim_groups.c.display_name),
    "externalid": scim_groups.c.external_id,
    "meta.created": scim_groups.c.created_at,
    "meta.lastmodified": scim_groups.c.updated_at,
}


def _key(path: g.AttrPath, urn: str) -> str:
    """The compiler's key for ``path``: ``attr[.sub]`` in the resource's core schema, ``<urn>:attr[.sub]``
    in an extension schema (keys that no ``Field`` has are refused by the caller)."""
    key = path.attr.lower() + (f".{path.sub.lower()}" if path.sub else "")
    if path.urn is None or path.urn.lower() == urn:
        return key
    return f"{path.urn.lower()}:{key}"


def _sort_column(spec: g.SortSpec, columns: dict[str, Any], urn: str) -> Any:
    path = spec.path
    key = _key(path, urn)
    column = columns.get(key)
    if column is None:
        raise g.InvalidFilter(
            f"Cannot sort by {path}; sortable attributes are: {', '.join(sorted(columns))}."
        )
    return column.desc() if spec.descending else column.asc()


def _groups_from_json(pairs: list[list[str]] | None, dialect: str) -> list[tuple[str, str]]:
    """A member's (group id, group name) pairs from ``hot.live_user_by_user_name``, in the order
    ``groups_of_members`` gives: by name, then id (PostgreSQL's array is in that order already)."""
    groups = [(group_id, name) for group_id, name in pairs or []]
    return sorted(groups, key=lambda group: (group[1], group[0])) if dialect == "sqlite" else groups


def _user_name_lookup(query: g.Query) -> str | None:
    """The userName of a plain ``userName eq "..."`` query (no sort, no keyset), else None."""
    node = query.filter
    if (
        isinstance(node, g.Compare)
        and node.op == "eq"
        and isinstance(node.value, str)
        and query.sort is None
        and query.after is None
        and query.before is None
        and _key(node.path, CORE_USER_URN) == "username"
    ):
        return node.value
    return None


# -- the store ---------------------------------------------------------------------------------------------
class ScimStore:
    """SCIM queries inside one ``Store`` transaction."""

    def __init__(self, tx: Store) -> None:
        self.tx = tx
        self.session = tx.session
        bind = self.session.get_bind()
        self.dialect = bind.dialect.name

    def _among(self, column: sa.ColumnElement[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
        """``column IN values``. On PostgreSQL one array parameter (``= ANY``): the server hashes it (or probes
        an index with it), where an IN list of bound parameters is compared one by one with every candidate
        row, which made adding 10,000 members to a group take seconds."""
        if self.dialect == "postgresql":
            return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String)))
        return column.in_(values)

    def _chunks(self, values: Sequence[str]) -> Iterable[Sequence[str]]:
        """``values`` in pieces one statement takes (SQLite limits the parameters of a statement)."""
        return _chunks(values, size=PG_CHUNK if self.dialect == "postgresql" else CHUNK)

    # -- users ---------------------------------------------------------------------------------------------
    def user(self, org_id: str, member_id: str, *, lock: bool = False) -> m.Member | None:
        """A live member; ``lock`` takes its row lock (a write that checks the version it read)."""
        member = (
            self.tx.member_for_update(org_id, member_id) if lock else self.tx.get(m.Member, org_id, member_id)
        )
        if member is None or member.status is m.MemberStatus.REMOVED:
            return None
        return member

    def users_with_groups(
        self, org_id: str, query: g.Query
    ) -> tuple[list[tuple[m.Member, list[tuple[str, str]]]], int]:
        """``users`` with each user's groups (``groups_of_members``)."""
        user_name = _user_name_lookup(query)
        if user_name is None:
            found, total = self.users(org_id, query)
            groups = self.groups_of_members(org_id, [u.id for u in found])
            return [(u, groups[u.id]) for u in found], total
        # The identity provider's lookup before every push: at most one live user (a unique index), with
        # their groups in the same statement.
        rows = self.tx.read(
            hot.live_user_by_user_name(self.dialect), {"org_id": org_id, "user_name": user_name.lower()}
        )
        page = rows[query.offset : query.offset + query.limit]
        split = len(members.c)
        return [
            (
                self.tx.from_row(m.Member, row_by_column(members, row[:split])),
                _groups_from_json(row[split], self.dialect),
            )
            for row in page
        ], len(rows)

    def users(self, org_id: str, query: g.Query) -> tuple[list[m.Member], int]:
        where = [members.c.org_id == org_id, members.c.status != m.MemberStatus.REMOVED.value]
        if query.filter is not None:
            where.append(_user_compiler(self.dialect, org_id).compile(query.filter))
        sort = (
            _sort_column(query.sort, _user_sortable(self.dialect), CORE_USER_URN)
            if query.sort is not None
            else None
        )
        whole_list = query.filter is None
        total = (lambda: counts.members_total(self.session, org_id, None)) if whole_list else None
        return list_page(self.session, m.Member, members, where, sort, query, total)

    def set_user_emails(
        self, org_id: str, member_id: str, emails: Sequence[dict[str, Any]], *, replace: bool = True
    ) -> None:
        """Replace the indexed copy of a user's addresses (the representation lives in the attributes);
        ``replace=False`` for a new user, who has none yet: nothing in its transaction reads them, so they are
        written with the rows that wait for the commit (on PostgreSQL in the same statement). A replacement on
        PostgreSQL deletes the old rows and inserts the new ones in one statement."""
        rows = [
            {
                "id": str(uuid.uuid4()),
                "org_id": org_id,
                "member_id": member_id,
                "value": str(email["value"])[:320],
                "type": (str(email["type"])[:64] if email.get("type") is not None else None),
                "primary": email.get("primary") is True,
                "position": position,
            }
            for position, email in enumerate(emails)
            if isinstance(email.get("value"), str)
        ]
        if not replace:
            if rows:
                self.tx.insert_at_commit(scim_user_emails, rows)
            return
        if rows and self.dialect == "postgresql" and len(rows) <= hot.CHAIN_ROWS:
            self.tx.send(*hot.replace_user_emails(rows))  # one round trip for both
            return
        self.session.execute(hot.delete_user_emails(), {"org_id": org_id, "member_id": member_id})
        if rows:
            self.tx.send(hot.insert_rows(scim_user_emails, tuple(rows[0])), rows)

    def live_member_ids(self, org_id: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in self._chunks(list(dict.fromkeys(ids))):
            found.update(
                self.session.scalars(
                    sa.select(members.c.id).where(
                        members.c.org_id == org_id,
                        self._among(members.c.id, chunk),
                        members.c.status != m.MemberStatus.REMOVED.value,
                    )
                )
            )
        return found

    def groups_of_members(self, org_id: str, member_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """For each member, the (group id, group name) pairs of the groups they are in, by name."""
        result: dict[str, list[tuple[str, str]]] = {mid: [] for mid in member_ids}
        for chunk in _chunks(list(member_ids)):
            rows = self.session.execute(
                hot.groups_of_members(), {"org_id": org_id, "member_ids": list(chunk)}
            )
            for member_id, group_id, name in rows:
                result[member_id].append((group_id, name))
        return result

    def remove_from_all_groups(self, org_id: str, member_id: str) -> int:
        result = self.session.execute(
            sa.delete(scim_group_members).where(
                scim_group_members.c.org_id == org_id, scim_group_members.c.member_id == member_id
            )
        )
        return int(result.rowcount or 0)

    # -- groups --------------------------------------------------------------------------------------------
    def group(self, org_id: str, group_id: str, *, lock: bool = False) -> g.Group | None:
        stmt = sa.select(g.Group).where(g.Group.org_id == org_id, g.Group.id == group_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).one_or_none()

    def group_by_name(self, org_id: str, name: str) -> g.Group | None:
        return self.session.scalars(
            sa.select(g.Group).where(
                g.Group.org_id == org_id, sa.func.lower(g.Group.display_name) == name.lower()
            )
        ).one_or_none()

    def groups(self, org_id: str, query: g.Query) -> tuple[list[g.Group], int]:
        where = [scim_groups.c.org_id == org_id]
        if query.filter is not None:
            where.append(_group_compiler(self.dialect, org_id).compile(query.filter))
        sort = _sort_column(query.sort, _GROUP_SORT, CORE_GROUP_URN) if query.sort is not None else None
        return list_page(self.session, g.Group, scim_groups, where, sort, query)

    def group_members(
        self, org_id: str, group_ids: Sequence[str]
    ) -> dict[str, list[tuple[m.Member, str | None]]]:
        """The live members of each group with the label the IdP gave them, in a stable order."""
        result: dict[str, list[tuple[m.Member, str | None]]] = {gid: [] for gid in group_ids}
        for chunk in self._chunks(list(group_ids)):
            rows = self.session.execute(
                sa.select(scim_group_members.c.group_id, m.Member, scim_group_members.c.display)
                .join(m.Member, m.Member.id == scim_group_members.c.member_id)
                .where(
                    scim_group_members.c.org_id == org_id,
                    self._among(scim_group_members.c.group_id, chunk),
                    m.Member.status != m.MemberStatus.REMOVED,
                )
                .order_by(scim_group_members.c.created_at, scim_group_members.c.member_id)
            )
            for group_id, member, display in rows:
                result[group_id].append((member, display))
        return result

    def group_member_ids(self, org_id: str, group_id: str) -> set[str]:
        return set(
            self.session.scalars(
                sa.select(scim_group_members.c.member_id).where(
                    scim_group_members.c.org_id == org_id, scim_group_members.c.group_id == group_id
                )
            )
        )

    def add_group_members(
        self,
        org_id: str,
        group_id: str,
        member_ids: Sequence[str],
        now: datetime,
        displays: dict[str, str] | None = None,
    ) -> list[str]:
        """Insert only the memberships that do not exist yet; returns the ids actually added."""
        displays = displays or {}
        wanted = list(dict.fromkeys(member_ids))
        existing: set[str] = set()
        for chunk in self._chunks(wanted):
            existing.update(
                self.session.scalars(
                    sa.select(scim_group_members.c.member_id).where(
                        scim_group_members.c.group_id == group_id,
                        self._among(scim_group_members.c.member_id, chunk),
                    )
                )
            )
        added = [mid for mid in wanted if mid not in existing]
        if added and self.dialect == "postgresql":
            self.session.execute(
                hot.add_group_members_pg(),
                {
                    "group_id": group_id,
                    "org_id": org_id,
                    "created_at": now,
                    "member_ids": added,
                    "displays": [displays.get(mid) for mid in added],
                },
            )
        elif added:
            self.session.execute(
                sa.insert(scim_group_members),
                [
                    {
                        "group_id": group_id,
                        "member_id": mid,
                        "org_id": org_id,
                        "display": displays.get(mid),
                        "created_at": now,
                    }
                    for mid in added
                ],
            )
        return added

    def remove_group_members(self, org_id: str, group_id: str, member_ids: Sequence[str]) -> list[str]:
        """Delete only the named memberships; returns the ids that were members."""
        removed: list[str] = []
        for chunk in self._chunks(list(dict.fromkeys(member_ids))):
            present = list(
                self.session.scalars(
                    sa.select(scim_group_members.c.member_id).where(
                        scim_group_members.c.org_id == org_id,
                        scim_group_members.c.group_id == group_id,
                        self._among(scim_group_members.c.member_id, chunk),
                    )
                )
            )
            if present:
                self.session.execute(
                    sa.delete(scim_group_members).where(
                        scim_group_members.c.group_id == group_id,
                        self._among(scim_group_members.c.member_id, present),
                    )
                )
            removed.extend(present)
        return removed

    def group_members_matching(self, org_id: str, group_id: str, expr: g.Filter) -> list[str]:
        """Member ids of the group whose membership matches a PATCH value filter such as
        ``members[value eq "id"]`` (sub-attributes ``value`` and ``display``)."""
        compiler = _group_compiler(self.dialect, org_id)
        multi = compiler.multi["members"]
        where = compiler.element(multi, expr, "members")
        return list(
            self.session.scalars(
                sa.select(scim_group_members.c.member_id).where(
                    scim_group_members.c.org_id == org_id, scim_group_members.c.group_id == group_id, where
                )
            )
        )

    # -- group -> role mappings ----------------------------------------------------------------------------
    def role_mappings(self, org_id: str) -> Sequence[g.GroupRoleMapping]:
        return self.session.scalars(hot.role_mappings(), {"org_id": org_id}).all()

    def role_mapping(self, org_id: str, group_name: str) -> g.GroupRoleMapping | None:
        return self.session.scalars(
            sa.select(g.GroupRoleMapping).where(
                g.GroupRoleMapping.org_id == org_id,
                sa.func.lower(g.GroupRoleMapping.group_name) == group_name.lower(),
            )
        ).one_or_none()

    def mapped_roles(self, org_id: str, member_ids: Sequence[str]) -> dict[str, list[m.Role]]:
        """For each member, the roles mapped to the IdP groups they are in."""
        result: dict[str, list[m.Role]] = {mid: [] for mid in member_ids}
        for chunk in self._chunks(list(member_ids)):
            rows = self.session.execute(
                sa.select(scim_group_members.c.member_id, scim_group_role_mappings.c.role)
                .join(scim_groups, scim_groups.c.id == scim_group_members.c.group_id)
                .join(
                    scim_group_role_mappings,
                    sa.and_(
                        scim_group_role_mappings.c.org_id == scim_groups.c.org_id,
                        sa.func.lower(scim_group_role_mappings.c.group_name)
                        == sa.func.lower(scim_groups.c.display_name),
                    ),
                )
                .where(
                    scim_group_members.c.org_id == org_id, self._among(scim_group_members.c.member_id, chunk)
                )
            )
            for member_id, role in rows:
                result[member_id].append(m.Role(role))
        return result

    def members_of_group_named(self, org_id: str, name: str) -> list[str]:
        return list(
            self.session.scalars(
                sa.select(scim_group_members.c.member_id)
                .join(scim_groups, scim_groups.c.id == scim_group_members.c.group_id)
                .where(
                    scim_groups.c.org_id == org_id, sa.func.lower(scim_groups.c.display_name) == name.lower()
                )
            )
        )
