"""The statements of the hot paths (a SCIM create or lookup, a sign-in), built once and run with bound values.

Building a statement (``select(...).where(...)``) costs more than SQLAlchemy's cached execution of it: about 60
to 90 microseconds of Python per statement, against 20 to 40 for running a prebuilt one, on a request that an
identity provider sends 100,000 times during a first sync. Each statement here is built on first use (the ORM
mapping must exist by then) and reused; values go in as bound parameters, never as SQL text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg2

from gateway.domain import groups as g
from gateway.domain import model as m
from gateway.storage.outbox_tables import WebhookEndpoint, outbox_cursors, outbox_events
from gateway.storage.saml_tables import saml_assertions_seen, saml_requests
from gateway.storage.scim_tables import scim_group_members, scim_groups, scim_user_emails
from gateway.storage.tables import (
    blocked_emails,
    domains,
    members,
    organizations,
    resources,
    scim_tokens,
    sso_connections,
    web_sessions,
)

_EMAIL_JOINS = 0x6A6F696E
"""First key of the PostgreSQL advisory lock that serializes the joins of one email in one organization."""
_ORG_GATE = 0x6F726767
"""First key of the PostgreSQL advisory lock that queues an organization's changes fairly (``org_gate``)."""


def org_gate(org_id: Any, *, exclusive: bool) -> sa.ColumnElement[Any]:
    """PostgreSQL: the organization's gate, taken in the statement that locks its row. Row locks alone let a
    stream of ``FOR SHARE`` lockers (SCIM creates of a sync) starve a waiting ``FOR UPDATE`` (a mode switch):
    a new shared locker joins the current ones without queuing behind the waiter. The advisory lock manager
    queues fairly, so once a switch waits for the gate, later changes wait behind it and then see its result."""
    take = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
    return take(_ORG_GATE, sa.func.hashtext(org_id)).label("org_gate")


@functools.cache
def insert_into(table: sa.Table) -> sa.Insert:
    """An INSERT of one row into ``table``, every column a bound parameter named after it."""
    return insert_rows(table, tuple(c.key for c in table.columns))


CHAIN_ROWS = 64
"""Rows up to which ``insert_chain`` sends a statement of a known shape, compiled once (see there)."""


Updates = Sequence[tuple[sa.Update, Mapping[str, Any]]]
"""Prebuilt UPDATEs (each built once) with their values, sent as data-modifying CTEs of a chain."""


def insert_chain(
    parts: list[tuple[sa.Table, list[dict[str, Any]]]], updates: Updates = ()
) -> tuple[sa.Executable, dict[str, Any]]:
    """PostgreSQL: the rows of several tables in one statement and its parameters: each table's rows a
    data-modifying CTE of the last table's INSERT (one round trip instead of one per table; foreign keys are
    checked at its end). Each table's rows are one multi-row INSERT, so they take their serial ids in their order
    (PostgreSQL runs the CTEs themselves in no set order).

    SQLAlchemy compiles a multi-row ``VALUES`` anew on every call (it has no cache key), which cost a SCIM create a
    fifth of its time. Up to ``CHAIN_ROWS`` rows (what one request writes), the statement is therefore written
    once per shape (tables, columns, rows per table) as SQL text with typed bound parameters, which SQLAlchemy's
    compiled cache keeps. A larger batch (a group change naming thousands of members) is built for itself.

    ``updates`` go in the same statement (``chained_updates``); a larger batch takes none."""
    if not chain_fits(parts):
        if updates:
            raise ValueError("A chain built for its values takes no updates: send them first.")
        return _chain_of_batches(parts), {}
    statements, params = _updates_key(updates)
    return _chain_of_shape(_shape(parts), statements), {**_chain_params(parts), **params}


def chain_fits(parts: list[tuple[sa.Table, list[dict[str, Any]]]]) -> bool:
    """Whether ``insert_chain`` of ``parts`` is a statement of a known shape (else one built for its values)."""
    return sum(len(rows) for _, rows in parts) <= CHAIN_ROWS


_Shape = tuple[tuple[sa.Table, tuple[str, ...], int], ...]
"""Each table of a chain, the columns of its rows and how many rows it has."""


def _shape(parts: list[tuple[sa.Table, list[dict[str, Any]]]]) -> _Shape:
    return tuple((table, tuple(rows[0]), len(rows)) for table, rows in parts)


def _chain_params(parts: list[tuple[sa.Table, list[dict[str, Any]]]]) -> dict[str, Any]:
    """The rows' values, named ``t<table>_<row>_<column>`` as ``_inserts_of_shape`` binds them."""
    return {
        f"t{t}_{r}_{key}": value
        for t, (_, rows) in enumerate(parts)
        for r, row in enumerate(rows)
        for key, value in row.items()
    }


def _inserts_of_shape(shape: _Shape) -> tuple[list[sa.BindParameter[Any]], list[str]]:
    """One multi-row INSERT per table of ``shape``, with the typed bound parameters they use."""
    quote = postgresql.dialect().identifier_preparer.quote
    binds: list[sa.BindParameter[Any]] = []
    inserts: list[str] = []
    for t, (table, keys, count) in enumerate(shape):
        values = []
        for r in range(count):
            names = [f"t{t}_{r}_{key}" for key in keys]
            binds.extend(sa.bindparam(n, type_=table.c[k].type) for n, k in zip(names, keys, strict=True))
            values.append("(" + ", ".join(f":{n}" for n in names) + ")")
        columns = ", ".join(quote(table.c[key].name) for key in keys)
        inserts.append(f"INSERT INTO {quote(table.name)} ({columns}) VALUES {', '.join(values)}")
    return binds, inserts


def _updates_key(updates: Updates) -> tuple[tuple[sa.Update, ...], dict[str, Any]]:
    """The UPDATEs of ``updates`` (part of a chain's shape) and their values, named as ``chained_updates``
    binds them."""
    params = {f"u{u}_{key}": value for u, (_, values) in enumerate(updates) for key, value in values.items()}
    return tuple(statement for statement, _ in updates), params


_PYFORMAT = re.compile(r"%\((\w+)\)s")
_PYFORMAT_DIALECT = psycopg2.dialect()
"""PostgreSQL's SQL with ``%(name)s`` parameters and no casts after them (which would end a ``:name`` early)."""


def chained_updates(statements: tuple[sa.Update, ...]) -> tuple[list[sa.BindParameter[Any]], list[str]]:
    """PostgreSQL: each prebuilt UPDATE as a data-modifying CTE (``updated_<n>``), its parameters renamed
    ``u<n>_<name>`` and typed as the statement types them. An UPDATE in a chain sees the rows as they were when
    the statement began (not those its INSERTs add), and its changes are there at the commit."""
    binds: list[sa.BindParameter[Any]] = []
    ctes: list[str] = []
    for u, statement in enumerate(statements):
        compiled = statement.compile(dialect=_PYFORMAT_DIALECT)
        if any(not bind.required for bind in compiled.binds.values()):
            raise ValueError("A chained UPDATE binds every value it uses.")
        binds.extend(sa.bindparam(f"u{u}_{name}", type_=bind.type) for name, bind in compiled.binds.items())
        sql = _PYFORMAT.sub(lambda found, u=u: f":u{u}_{found.group(1)}", compiled.string)
        ctes.append(f"updated_{u} AS ({sql})")
    return binds, ctes


@functools.lru_cache(maxsize=256)
def _chain_of_shape(shape: _Shape, updates: tuple[sa.Update, ...] = ()) -> sa.TextClause:
    binds, inserts = _inserts_of_shape(shape)
    update_binds, update_ctes = chained_updates(updates)
    *firsts, last = inserts
    ctes = ", ".join([*update_ctes, *(f"rows_{i} AS ({sql})" for i, sql in enumerate(firsts))])
    return sa.text(f"WITH {ctes} {last}" if ctes else last).bindparams(*binds, *update_binds)


NUMBERED = "numbered"
"""The name of ``numbered_chain``'s event rows in its parameters (``numbered_<row>_<column>``)."""
_NUMBERED_COLUMNS = ("org_id", "event_id", "type", "occurred_at", "payload")


def numbered_chain(
    org_id: str,
    events: list[dict[str, Any]],
    parts: list[tuple[sa.Table, list[dict[str, Any]]]],
    updates: Updates = (),
) -> tuple[sa.TextClause, dict[str, Any]]:
    """PostgreSQL: ``insert_chain`` of ``parts`` that also takes the organization's next ``len(events)`` event
    numbers and inserts ``events`` (rows of ``outbox_events`` without ``seq``) with them, the payload's
    ``sequence`` set to the same number. One statement returns the last number and whether the organization has
    a webhook endpoint.

    The numbers come from the upsert of the organization's ``outbox_cursors`` row, whose lock orders events in
    commit order. Taken in the transaction's last statement, the lock is held from there to the commit only,
    with no round trip and no Python in between: the creates of one organization (a first sync) then queue
    for that moment alone, not for the whole end of each other's transactions."""
    params = {f"{NUMBERED}_{r}_{key}": row[key] for r, row in enumerate(events) for key in _NUMBERED_COLUMNS}
    params[f"{NUMBERED}_org_id"] = org_id
    statements, update_params = _updates_key(updates)
    statement = _numbered_chain_of_shape(len(events), _shape(parts), statements)
    return statement, {**params, **_chain_params(parts), **update_params}


@functools.lru_cache(maxsize=256)
def _numbered_chain_of_shape(count: int, parts: _Shape, updates: tuple[sa.Update, ...] = ()) -> sa.TextClause:
    events = outbox_events.c
    binds, inserts = _inserts_of_shape(parts)
    update_binds, update_ctes = chained_updates(updates)
    binds.extend(update_binds)
    binds.append(sa.bindparam(f"{NUMBERED}_org_id", type_=outbox_cursors.c.org_id.type))
    values = []
    for r in range(count):
        names = [f"{NUMBERED}_{r}_{key}" for key in _NUMBERED_COLUMNS]
        binds.extend(
            sa.bindparam(n, type_=events[k].type) for n, k in zip(names, _NUMBERED_COLUMNS, strict=True)
        )
        values.append(f"({r + 1}, " + ", ".join(f":{n}" for n in names) + ")")
    seq = f"seq_cursor.last_seq - {count} + v.n"
    ctes = [
        f"seq_cursor AS (INSERT INTO outbox_cursors (org_id, last_seq) VALUES (:{NUMBERED}_org_id, {count}) "
        f"ON CONFLICT (org_id) DO UPDATE SET last_seq = outbox_cursors.last_seq + {count} RETURNING last_seq)",
        "numbered AS (INSERT INTO outbox_events (org_id, seq, event_id, type, occurred_at, payload) "
        f"SELECT v.org_id, {seq}, v.event_id, v.type, v.occurred_at, "
        f"CAST(jsonb_set(CAST(v.payload AS jsonb), '{{sequence}}', to_jsonb({seq})) AS json) "
        f"FROM seq_cursor, (VALUES {', '.join(values)}) AS v (n, {', '.join(_NUMBERED_COLUMNS)}) ORDER BY v.n)",
    ]
    ctes.extend(update_ctes)
    ctes.extend(f"rows_{t} AS ({sql})" for t, sql in enumerate(inserts))
    quote = postgresql.dialect().identifier_preparer.quote
    endpoints = sa.inspect(WebhookEndpoint).local_table.name
    return sa.text(
        f"WITH {', '.join(ctes)} SELECT seq_cursor.last_seq, EXISTS (SELECT 1 FROM {quote(endpoints)} "
        f"WHERE org_id = :{NUMBERED}_org_id) AS has_endpoints FROM seq_cursor"
    ).bindparams(*binds)


def _chain_of_batches(parts: list[tuple[sa.Table, list[dict[str, Any]]]]) -> sa.Insert:
    (*firsts, (table, rows)) = parts
    stmt = sa.insert(table).values(rows)
    for i, (other, other_rows) in enumerate(firsts):
        stmt = stmt.add_cte(sa.insert(other).values(other_rows).cte(f"rows_{i}"))
    return stmt


@functools.cache
def token_and_org_rows(*, shared_lock: bool = False) -> sa.Select[Any]:
    """A SCIM token's columns followed by its organization's, by the token's hash (``:token_hash``), as plain
    rows (loading them as ORM entities cost a lookup a tenth of its time). ``shared_lock`` also takes the
    organization row's shared lock (PostgreSQL ``FOR SHARE``) and its gate (``org_gate``), as a SCIM write does."""
    stmt = (
        sa.select(*scim_tokens.c, *organizations.c)
        .join_from(scim_tokens, organizations, organizations.c.id == scim_tokens.c.org_id)
        .where(scim_tokens.c.token_hash == sa.bindparam("token_hash"))
    )
    if shared_lock:
        stmt = stmt.add_columns(org_gate(organizations.c.id, exclusive=False)).with_for_update(
            read=True, of=organizations
        )
    return stmt


def _member_and_block(*columns: Any) -> sa.Select[Any]:
    """``columns`` (the member's) and whether ``:email`` is blocked in ``:org_id``, from one row that is there
    whether or not the member with ``:email`` in ``:org_id`` is (its columns NULL then)."""
    org_id, email = sa.bindparam("org_id"), sa.bindparam("email")
    blocked = (
        sa.exists()
        .where(blocked_emails.c.org_id == org_id, blocked_emails.c.email == email)
        .correlate(None)
        .label("blocked")
    )
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    return (
        sa.select(*columns, blocked)
        .select_from(one)
        .outerjoin(members, sa.and_(members.c.org_id == org_id, members.c.email == email))
    )


@functools.cache
def member_and_block() -> sa.Select[Any]:
    """The member with ``:email`` in ``:org_id`` (removed ones too, or NULLs) and whether the address is blocked."""
    return _member_and_block(m.Member)


@functools.cache
def member_block_and_domain(*, with_org: bool = False) -> sa.Select[Any]:
    """``member_and_block`` and the verified claim on the email domain ``:domain``, as one plain row: the
    member's columns (NULLs when there is none), whether the address is blocked, then the claim's columns (NULLs
    when no organization verified the domain). What a sign-in or a SCIM create decides on, in one query.
    ``with_org`` adds the columns of the organization ``:org_id`` (NULLs when it is gone): a SQLite writer that
    just took its write lock checks with them that the organization did not change since it read it."""
    claim = sa.and_(domains.c.domain == sa.bindparam("domain"), domains.c.verified.is_(True))
    stmt = _member_and_block(*members.c).add_columns(*domains.c).outerjoin(domains, claim)
    if with_org:
        org = organizations.c.id == sa.bindparam("org_id")
        stmt = stmt.add_columns(*organizations.c).outerjoin(organizations, org)
    return stmt


@functools.cache
def by_id(cls: type) -> sa.Select[Any]:
    """The mapped ``cls`` object whose primary key ``id`` is ``:id``."""
    return sa.select(cls).where(cls.id == sa.bindparam("id"))  # type: ignore[attr-defined]


@functools.cache
def member_locked(*, shared: bool) -> sa.Select[Any]:
    """The member ``:member_id`` of ``:org_id`` read over the session's copy, its row locked on PostgreSQL:
    ``FOR NO KEY UPDATE`` for an edit (rows that reference the member can still be inserted), ``FOR SHARE`` for a
    change that needs the member to stay as it is. (SQLite takes its write lock instead: ``first_write``.)"""
    stmt = sa.select(m.Member).where(
        m.Member.id == sa.bindparam("member_id"), m.Member.org_id == sa.bindparam("org_id")
    )
    locked = stmt.with_for_update(read=True) if shared else stmt.with_for_update(key_share=True)
    return locked.execution_options(populate_existing=True)


@functools.cache
def delete_user_emails() -> sa.Delete:
    """The indexed addresses of the user ``:member_id`` of ``:org_id``."""
    return sa.delete(scim_user_emails).where(
        scim_user_emails.c.org_id == sa.bindparam("org_id"),
        scim_user_emails.c.member_id == sa.bindparam("member_id"),
    )


def replace_user_emails(rows: list[dict[str, Any]]) -> tuple[sa.TextClause, dict[str, Any]]:
    """PostgreSQL: ``delete_user_emails`` and the INSERT of the user's new ``rows`` (at most ``CHAIN_ROWS``, all
    with the same keys and the same ``org_id`` and ``member_id``) in one statement. The DELETE, a data-modifying
    CTE, sees the rows as they were when the statement began, so it removes the old addresses and none of the new
    ones, as the two statements did one after the other."""
    shape = _shape([(scim_user_emails, rows)])
    params = _chain_params([(scim_user_emails, rows)])
    params.update(gone_org_id=rows[0]["org_id"], gone_member_id=rows[0]["member_id"])
    return _replace_user_emails_of_shape(shape), params


@functools.lru_cache(maxsize=64)
def _replace_user_emails_of_shape(shape: _Shape) -> sa.TextClause:
    binds, (insert,) = _inserts_of_shape(shape)
    binds += [
        sa.bindparam("gone_org_id", type_=scim_user_emails.c.org_id.type),
        sa.bindparam("gone_member_id", type_=scim_user_emails.c.member_id.type),
    ]
    gone = "DELETE FROM scim_user_emails WHERE org_id = :gone_org_id AND member_id = :gone_member_id"
    return sa.text(f"WITH gone AS ({gone}) {insert}").bindparams(*binds)


@functools.cache
def resources_created_by() -> sa.Select[Any]:
    """How many resources of ``:org_id`` the member ``:member_id`` created."""
    return (
        sa.select(sa.func.count())
        .select_from(resources)
        .where(
            resources.c.org_id == sa.bindparam("org_id"), resources.c.created_by == sa.bindparam("member_id")
        )
    )


@functools.cache
def role_mappings() -> sa.Select[Any]:
    """The group -> role mappings of ``:org_id``, by group name."""
    return (
        sa.select(g.GroupRoleMapping)
        .where(g.GroupRoleMapping.org_id == sa.bindparam("org_id"))
        .order_by(g.GroupRoleMapping.group_name)
    )


LOCK_EMAIL = sa.text("SELECT pg_advisory_xact_lock(:kind, hashtext(:key))").bindparams(kind=_EMAIL_JOINS)
"""PostgreSQL only: the advisory lock on ``:key`` (``<org id>:<email>``) for the rest of the transaction."""


@functools.cache
def foreign_verified_domain() -> sa.Select[Any]:
    """One of ``:names`` that an organization other than ``:org_id`` holds verified."""
    return (
        sa.select(m.Domain.domain)
        .where(
            m.Domain.domain.in_(sa.bindparam("names", expanding=True)),
            m.Domain.verified.is_(True),
            m.Domain.org_id != sa.bindparam("org_id"),
        )
        .limit(1)
    )


@functools.cache
def live_user_by_user_name(dialect: str) -> sa.Select[Any]:
    """The live member of ``:org_id`` whose userName is ``:user_name`` (case-insensitive; the member's columns
    as a plain row, in the table's order, then the groups), through the unique
    index on live userNames (at most one row), with the groups they are in as a JSON array of ``[id, name]``
    (NULL or ``[]`` for none): a lookup is one statement. PostgreSQL orders the array by name then id, as
    ``groups_of_members`` does; SQLite's ``json_group_array`` cannot order, so the caller sorts (SQLite compares
    text by code point, as Python does)."""
    if dialect == "sqlite":
        groups_json = sa.func.json_group_array(
            sa.func.json_array(scim_groups.c.id, scim_groups.c.display_name), type_=sa.JSON
        )
    else:
        groups_json = sa.func.json_agg(
            postgresql.aggregate_order_by(
                sa.func.json_build_array(scim_groups.c.id, scim_groups.c.display_name),
                scim_groups.c.display_name,
                scim_groups.c.id,
            ),
            type_=sa.JSON,
        )
    groups = (
        sa.select(groups_json)
        .select_from(scim_group_members.join(scim_groups, scim_groups.c.id == scim_group_members.c.group_id))
        .where(
            scim_group_members.c.org_id == members.c.org_id,
            scim_group_members.c.member_id == members.c.id,
        )
        .scalar_subquery()
    )
    return sa.select(members, groups).where(
        members.c.org_id == sa.bindparam("org_id"),
        sa.func.lower(members.c.user_name) == sa.bindparam("user_name"),
        members.c.status != m.MemberStatus.REMOVED.value,
    )


@functools.cache
def groups_of_members() -> sa.Select[Any]:
    """(member id, group id, group name) of the groups the members ``:member_ids`` of ``:org_id`` are in."""
    return (
        sa.select(scim_group_members.c.member_id, scim_groups.c.id, scim_groups.c.display_name)
        .join(scim_groups, scim_groups.c.id == scim_group_members.c.group_id)
        .where(
            scim_group_members.c.org_id == sa.bindparam("org_id"),
            scim_group_members.c.member_id.in_(sa.bindparam("member_ids", expanding=True)),
        )
        .order_by(scim_groups.c.display_name, scim_groups.c.id)
    )


@functools.cache
def webhook_endpoints() -> sa.Select[Any]:
    """The webhook endpoints of ``:org_id`` in the order they were added."""
    return (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.org_id == sa.bindparam("org_id"))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )


@functools.cache
def reserve_seqs(dialect: str) -> sa.Insert:
    """Take ``:count`` more event numbers of ``:org_id`` (an upsert of its cursor row), returning the last of
    them and whether the organization has a webhook endpoint (most have none: then nothing more is read).
    ``:endpoints_org_id`` is ``:org_id`` again (a VALUES parameter cannot be used twice)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    count = sa.bindparam("count", type_=sa.BigInteger)
    endpoints = sa.inspect(WebhookEndpoint).local_table
    has_endpoints = sa.exists().where(endpoints.c.org_id == sa.bindparam("endpoints_org_id"))
    return (
        insert(outbox_cursors)
        .values(org_id=sa.bindparam("org_id"), last_seq=count)
        .on_conflict_do_update(
            index_elements=[outbox_cursors.c.org_id],
            set_={"last_seq": outbox_cursors.c.last_seq + count},
        )
        .returning(outbox_cursors.c.last_seq, has_endpoints)
    )


@functools.cache
@functools.lru_cache(maxsize=256)
def insert_rows(table: sa.Table, keys: tuple[str, ...]) -> sa.Insert:
    """An INSERT into ``table`` of the columns ``keys``, each a bound parameter named after it (one row per
    parameter set; a list of them is sent as one batch)."""
    return sa.insert(table).values({key: sa.bindparam(key, type_=table.c[key].type) for key in keys})


# -- the SAML ACS and sessions


@functools.cache
def connection_by_slug() -> sa.Select[Any]:
    """The row of the SSO connection (SAML or OIDC) whose slug is ``:slug``."""
    return sa.select(sso_connections).where(sso_connections.c.slug == sa.bindparam("slug"))


@functools.cache
def connection_revision() -> sa.Select[Any]:
    """The stored ``revision`` of the connection ``:connection_id`` (no row once it is deleted)."""
    return sa.select(sso_connections.c.revision).where(sso_connections.c.id == sa.bindparam("connection_id"))


@functools.cache
def org_row_locked(lock: int, *, email_lock: bool = False) -> sa.Select[Any]:
    """The organization ``:org_id``'s columns (``org_row``), ``lock`` 1 taking its row lock shared (``FOR
    SHARE``) and 2 exclusively (``FOR UPDATE``), each with the organization's gate (``org_gate``; PostgreSQL
    only, as SQLite serializes writers). A row another transaction changed is read as committed.

    ``email_lock`` also takes the join lock of ``:email_key`` (``LOCK_EMAIL``), after the gate (PostgreSQL
    computes the selected columns in their order): what a sign-in takes next anyway, a round trip fewer. The
    member is read by a later statement, whose snapshot sees whatever the lock waited for."""
    stmt = org_row().add_columns(org_gate(organizations.c.id, exclusive=lock != 1))
    if email_lock:
        take = sa.func.pg_advisory_xact_lock(
            _EMAIL_JOINS, sa.func.hashtext(sa.bindparam("email_key", type_=sa.String))
        )
        stmt = stmt.add_columns(take.label("email_lock"))
    return stmt.with_for_update(read=lock == 1)


@functools.cache
def org_row() -> sa.Select[Any]:
    """The organization ``:org_id``'s columns as a plain row, in the table's order."""
    return sa.select(organizations).where(organizations.c.id == sa.bindparam("org_id"))


@functools.cache
def verified_domain() -> sa.Select[Any]:
    """The verified claim on the email domain ``:name``, if an organization holds one."""
    return sa.select(m.Domain).where(m.Domain.domain == sa.bindparam("name"), m.Domain.verified.is_(True))


@functools.cache
def record_assertion(dialect: str) -> sa.Insert:
    """Remember an assertion ID, every column a bound parameter; a row already there (a replay) is left as it
    is and nothing comes back (``RETURNING``, since drivers do not all report the row count of an upsert)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = saml_assertions_seen
    return (
        insert(table)
        .values({c.key: sa.bindparam(c.key, type_=c.type) for c in table.columns})
        .on_conflict_do_nothing(index_elements=[table.c.connection_id, table.c.assertion_id])
        .returning(table.c.assertion_id)
    )


@functools.cache
def record_assertion_taking_request() -> sa.Insert:
    """PostgreSQL: ``record_assertion`` and ``take_request`` in one statement (one round trip): the DELETE of the
    live remembered request ``:request_id`` of ``:kind`` for ``:request_org_id`` / ``:request_connection_id``
    (live at ``:now``) is a data-modifying CTE of the assertion's INSERT, which returns, when it inserted a row,
    how many requests the DELETE took (0 or 1) and their ``browser_hash``. Nothing comes back for a replay (the
    caller refuses it, rolling the DELETE back with the rest of the transaction)."""
    taken = _taking_request("request_id", "request_org_id", "request_connection_id").cte("taken_request")
    table = saml_assertions_seen
    return (
        postgresql.insert(table)
        .values({c.key: sa.bindparam(c.key, type_=c.type) for c in table.columns})
        .on_conflict_do_nothing(index_elements=[table.c.connection_id, table.c.assertion_id])
        .returning(
            table.c.assertion_id,
            sa.select(sa.func.count()).select_from(taken).scalar_subquery().label("taken"),
            sa.select(taken.c.browser_hash).scalar_subquery().label("browser_hash"),
        )
        .add_cte(taken)
    )


@functools.cache
def record_assertion_locking_sign_in(*, taking_request: bool) -> sa.Select[Any]:
    """PostgreSQL: what a sign-in sends first after the assertion's checks, in one statement (a round trip
    fewer): the replay cache's INSERT (and, with ``taking_request``, the DELETE of the request it answers, as
    ``record_assertion_taking_request``) as data-modifying CTEs of the locking read of the organization that a
    sign-in takes next anyway (``org_row_locked(SHARE, email_lock=True)``: its row shared, its gate, the join
    lock of ``:email_key``). After the organization's columns and the locks: whether the assertion was new
    (``fresh``, 0 for a replay), with ``taking_request`` how many requests were taken and their
    ``browser_hash``, and last the stored ``revision`` of the assertion's connection (``connection_revision``;
    ``NULL`` once it is deleted). The member is read by a later statement, whose snapshot sees whatever the
    locks waited for."""
    table = saml_assertions_seen
    # Inserted only while the connection exists: a copy of a deleted one is told by its revision (NULL), not
    # by a foreign key violation.
    row = sa.select(*[sa.bindparam(c.key, type_=c.type) for c in table.columns]).where(
        sa.exists().where(sso_connections.c.id == sa.bindparam("connection_id"))
    )
    seen = (
        postgresql.insert(table)
        .from_select([c.key for c in table.columns], row)
        .on_conflict_do_nothing(index_elements=[table.c.connection_id, table.c.assertion_id])
        .returning(table.c.assertion_id)
        .cte("seen_assertion")
    )
    fresh = sa.select(sa.func.count()).select_from(seen).scalar_subquery().label("fresh")
    stmt = org_row_locked(1, email_lock=True).add_columns(fresh)
    if taking_request:
        taken = _taking_request("request_id", "request_org_id", "request_connection_id").cte("taken_request")
        stmt = stmt.add_columns(
            sa.select(sa.func.count()).select_from(taken).scalar_subquery().label("taken"),
            sa.select(taken.c.browser_hash).scalar_subquery().label("browser_hash"),
        )
    return stmt.add_columns(connection_revision().scalar_subquery().label("connection_revision"))


@functools.cache
def take_request() -> sa.Delete:
    """Delete the live remembered request ``:id`` of ``:kind`` for ``:org_id`` / ``:connection_id`` (still
    live at ``:now``), returning its ``browser_hash``."""
    return _taking_request("id", "org_id", "connection_id")


def _taking_request(request_id: str, org_id: str, connection_id: str) -> sa.Delete:
    """The DELETE of a live remembered request (by the named parameters, ``:kind`` and ``:now``), returning its
    ``browser_hash``: the one rule ``take_request`` and ``record_assertion_taking_request`` both apply."""
    t = saml_requests
    return (
        sa.delete(t)
        .where(
            t.c.id == sa.bindparam(request_id),
            t.c.org_id == sa.bindparam(org_id),
            t.c.connection_id == sa.bindparam(connection_id),
            t.c.kind == sa.bindparam("kind"),
            t.c.expires_at > sa.bindparam("now", type_=t.c.expires_at.type),
        )
        .returning(t.c.browser_hash)
    )


@functools.cache
def revoke_session_by_hash() -> sa.Update:
    """End the live session whose token hash is ``:hash`` at ``:at`` (an ended one stays as it was). On the table,
    not the mapped class: the ORM rebuilds an UPDATE of an entity on every call, and its cache key with it."""
    return (
        sa.update(web_sessions)
        .where(web_sessions.c.token_hash == sa.bindparam("hash"), web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=sa.bindparam("at", type_=web_sessions.c.revoked_at.type))
    )


@functools.cache
def add_group_members_pg() -> sa.TextClause:
    """PostgreSQL: the memberships of ``:member_ids`` (with their ``:displays``, one array each) in group
    ``:group_id`` in one INSERT over ``unnest``. An executemany sends one INSERT per row (pipelined, but the
    server still runs each alone, and each row's timestamp is bound apart): 690 ms for 10,000 members."""
    c = scim_group_members.c
    return sa.text(
        "INSERT INTO scim_group_members (group_id, member_id, org_id, display, created_at) "
        "SELECT :group_id, t.member_id, :org_id, t.display, :created_at "
        "FROM unnest(:member_ids, :displays) AS t(member_id, display)"
    ).bindparams(
        sa.bindparam("group_id", type_=c.group_id.type),
        sa.bindparam("org_id", type_=c.org_id.type),
        sa.bindparam("created_at", type_=c.created_at.type),
        sa.bindparam("member_ids", type_=postgresql.ARRAY(sa.String)),
        sa.bindparam("displays", type_=postgresql.ARRAY(sa.String)),
    )
