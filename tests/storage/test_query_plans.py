"""Every hot query is served by an index that fits it, on a populated database: a flat cost as an organization
grows, checked by the planner's own account (``EXPLAIN QUERY PLAN`` / ``EXPLAIN (FORMAT JSON)``), never by
timing.

The SQL is not written here: each case runs the real store method with a statement listener, and the plan
of exactly what it emitted is read (with its parameters). A change that makes a query scan or sort the
organization fails here.

The database holds two organizations (3,000 and 1,200 members on SQLite, 12,000 and 3,000 on PostgreSQL, with
email rows, groups, memberships, invitations and audit events; members carry enterprise attributes in
``attributes`` as SCIM stores them: an employeeNumber, a department, a manager), inserted with Core multi-row
inserts, then analyzed as migration 0008 does (``ANALYZE``; ``VACUUM ANALYZE`` on PostgreSQL so index-only scans are possible, as autovacuum would).
On PostgreSQL sequential scans are disabled while explaining (see ``explain``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from statement_counter import count_statements

from gateway.domain import groups as g
from gateway.storage import statistics
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.scim_store import ScimStore
from gateway.storage.scim_tables import scim_group_members, scim_groups, scim_user_emails
from gateway.storage.search_tables import index_pending_members
from gateway.storage.store import Store
from gateway.storage.tables import (
    audit_events,
    invitations,
    members,
    metadata,
    organizations,
    project_memberships,
    projects,
)
from scim.filter import parse_filter

from .conftest import BACKENDS, create_postgres_database, drop_postgres_database

# PostgreSQL gets more rows: its cost model weighs a whole small table cheaply (see ``explain``).
SIZES = {"sqlite": (3000, 1200, 30), "postgresql": (12000, 3000, 200)}
START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "dennis", "radia"]
FAMILY = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "ritchie"]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEPARTMENTS = ["Engineering", "Sales", "Finance", "Support"]


def _enterprise(i: int, slug: str, manager: str | None) -> dict[str, Any]:
    """What Okta / Entra ID push for a user: every member has an employee number; one in 20 has no manager."""
    extension: dict[str, Any] = {"employeeNumber": f"E-{slug}-{i:06d}", "department": DEPARTMENTS[i % 4]}
    if manager is not None:
        extension["manager"] = {"value": manager}
    return {ENTERPRISE: extension, "title": "Engineer"}


@dataclass
class Populated:
    db: Database
    dialect: str
    org: str
    other: str
    member_ids: list[str]
    group_ids: list[str]


def _rows(org: str, slug: str, count: int, group_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    people, emails, memberships, audit, invites = [], [], [], [], []
    managers: list[str] = []
    for i in range(count):
        mid = str(uuid.uuid4())
        if i % 20 == 0:
            managers.append(mid)
        # several members share a creation second, so (created_at, id) ties are exercised
        at = START + timedelta(seconds=i // 3)
        given, family = WORDS[i % len(WORDS)], FAMILY[i % len(FAMILY)]
        email = f"{given}.{family}.{i}@{slug}.example"
        people.append({
            "id": mid, "org_id": org, "email": email, "role": "admin" if i % 500 == 0 else "member",
            "status": "suspended" if i % 97 == 0 else "active", "joined_via": "scim",
            "display_name": f"{given.title()} {family.title()} {i}", "given_name": given.title(),
            "family_name": family.title(), "user_name": f"user{i}@{slug}.example",
            "external_id": f"ext-{i}", "scim_linked": True, "version": 1,
            "attributes": _enterprise(i, slug, None if i % 20 == 0 else managers[-1]),
            "created_at": at, "updated_at": at,
        })  # fmt: skip
        emails.append({
            "id": str(uuid.uuid4()), "org_id": org, "member_id": mid, "value": email, "type": "work",
            "primary": True, "position": 0,
        })  # fmt: skip
        emails.append({
            "id": str(uuid.uuid4()), "org_id": org, "member_id": mid, "value": f"home{i}@mail.example",
            "type": "home", "primary": False, "position": 1,
        })  # fmt: skip
        if group_ids:
            memberships.append({
                "group_id": group_ids[i % len(group_ids)], "member_id": mid, "org_id": org,
                "display": None, "created_at": at,
            })  # fmt: skip
        for k in range(2):
            audit.append({
                "org_id": org, "at": at + timedelta(milliseconds=k), "actor_type": "scim_token",
                "actor_id": "token", "action": "member.created" if k == 0 else "member.updated",
                "target_type": "member", "target_id": mid, "details": {},
            })  # fmt: skip
        if i % 4 == 0:
            invites.append({
                "id": str(uuid.uuid4()), "org_id": org, "email": f"invitee{i}@{slug}.example",
                "role": "member", "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "status": "pending" if i % 8 == 0 else "revoked", "sent_at": at,
                "expires_at": at + timedelta(days=7), "created_at": at, "send_count": 1,
            })  # fmt: skip
    return {
        "members": people, "emails": emails, "memberships": memberships, "audit": audit, "invites": invites
    }  # fmt: skip


def _populate(db: Database) -> Populated:
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    big, small, groups = SIZES[db.engine.dialect.name]
    group_ids = [str(uuid.uuid4()) for _ in range(groups)]
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(organizations),
            [
                {"id": org, "slug": "big", "name": "Big", "mode": "sso", "multi_project": False,
                 "created_at": START},
                {"id": other, "slug": "small", "name": "Small", "mode": "sso", "multi_project": False,
                 "created_at": START},
            ],
        )  # fmt: skip
        conn.execute(
            sa.insert(scim_groups),
            [
                {"id": gid, "org_id": org, "display_name": f"Group {n}", "version": 1, "attributes": {},
                 "created_at": START + timedelta(seconds=n), "updated_at": START}
                for n, gid in enumerate(group_ids)
            ],
        )  # fmt: skip
        member_ids: list[str] = []
        for org_id, slug, count, in_groups in ((org, "big", big, group_ids), (other, "small", small, [])):
            rows = _rows(org_id, slug, count, in_groups)
            if org_id == org:
                member_ids = [r["id"] for r in rows["members"]]
            for table, key in (
                (members, "members"),
                (scim_user_emails, "emails"),
                (scim_group_members, "memberships"),
                (audit_events, "audit"),
                (invitations, "invites"),
            ):
                if rows[key]:
                    # one cached INSERT, sent as multi-row VALUES batches ("insertmanyvalues")
                    conn.execute(sa.insert(table), rows[key])
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        # As the gateway's upkeep leaves it: every member in the search index, none waiting to be indexed.
        with db.transaction() as tx:
            while index_pending_members(tx.session.connection()):
                pass
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return Populated(db, dialect, org, other, member_ids, group_ids)


@pytest.fixture(scope="module", params=BACKENDS)
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Populated]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.db'}"
    else:
        url = create_postgres_database()
    db = Database(url)
    metadata.create_all(db.engine)
    try:
        yield _populate(db)
    finally:
        db.dispose()
        if request.param != "sqlite":
            drop_postgres_database(url)


# -- reading plans -----------------------------------------------------------------------------------------
@dataclass
class Plan:
    dialect: str
    sql: str
    lines: list[tuple[int, int, str]]  # SQLite: (id, parent, detail)
    tree: dict[str, Any] | None  # PostgreSQL: the root plan node

    def nodes(self) -> Iterator[dict[str, Any]]:
        stack = [self.tree] if self.tree else []
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.get("Plans", []))

    def indexes(self) -> set[str]:
        if self.dialect == "sqlite":
            return {m.group(1) for _, _, d in self.lines for m in [re.search(r"INDEX (\w+)", d)] if m}
        return {n["Index Name"] for n in self.nodes() if "Index Name" in n}

    def text(self) -> str:
        if self.dialect == "sqlite":
            return "\n".join(f"{i} {p} {d}" for i, p, d in self.lines) + f"\n-- {self.sql}"
        return json.dumps(self.tree, indent=1)[:6000] + f"\n-- {self.sql}"


def explain(db: Database, sql: str, params: Any) -> Plan:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            return Plan("sqlite", sql, [(r[0], r[1], r[3]) for r in rows], None)
        # A few thousand rows fit in a few hundred pages, where reading the whole table is (rightly) the
        # cheapest plan for PostgreSQL; what this test asks is whether an index fits each statement, so
        # sequential scans are priced out here (and every index scan must then have a condition, below).
        conn.exec_driver_sql("SET enable_seqscan = off")
        raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar()
        data = raw if isinstance(raw, list) else json.loads(raw)
        return Plan("postgresql", sql, [], data[0]["Plan"])


def emitted(populated: Populated, run: Callable[[Store], Any], fragment: str) -> Plan:
    """Run ``run`` in a transaction that is rolled back, and the plan of the one statement containing
    ``fragment`` it emitted."""
    with count_statements(populated.db.engine) as counted:
        try:
            with populated.db.transaction() as tx:
                run(tx)
                raise _Rollback
        except _Rollback:
            pass
    found = [
        (s, p) for s, p in zip(counted.statements, counted.parameters, strict=True)
        if fragment.lower() in s.lower() and not s.upper().startswith(("BEGIN", "SAVEPOINT"))
    ]  # fmt: skip
    assert len(found) == 1, f"expected one statement with {fragment!r}; " + counted.report()
    return explain(populated.db, *found[0])


class _Rollback(Exception):
    pass


def assert_fits(plan: Plan, index: str | set[str], table: str) -> None:
    """The plan uses ``index`` (one of them) and never reads all of ``table`` (no full scan)."""
    wanted = {index} if isinstance(index, str) else index
    assert plan.indexes() & wanted, f"expected {wanted} in the plan:\n{plan.text()}"
    if plan.dialect == "sqlite":
        scans = [d for _, _, d in plan.lines if re.match(rf"SCAN {table}\b", d)]
        assert not scans, f"full scan of {table}:\n{plan.text()}"
    else:
        scans = [n for n in plan.nodes() if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == table]
        assert not scans, f"sequential scan of {table}:\n{plan.text()}"
        full = [n for n in plan.nodes() if "Index Name" in n and "Index Cond" not in n]
        assert not full, f"a whole-index scan of {table}:\n{plan.text()}"


def assert_no_sort_below_limit(plan: Plan) -> None:
    """The page's rows come in index order: nothing sorts the organization before LIMIT (the outer sort of
    the page's own rows, at most one page, is fine)."""
    if plan.dialect == "sqlite":
        top = {i for i, p, _ in plan.lines if p == 0}
        inner = [d for i, p, d in plan.lines if "TEMP B-TREE" in d and i not in top]
        assert not inner, f"a sort under the page's subquery:\n{plan.text()}"
        return

    def walk(node: dict[str, Any], under_limit: bool) -> None:
        if under_limit and node["Node Type"] in ("Sort", "Incremental Sort"):
            raise AssertionError(f"a sort below LIMIT:\n{plan.text()}")
        for child in node.get("Plans", []):
            walk(child, under_limit or node["Node Type"] == "Limit")

    walk(plan.tree or {}, False)


MEMBERS_PK = {"pk_members", "sqlite_autoindex_members_1"}
GROUP_MEMBERS_PK = {"pk_scim_group_members", "sqlite_autoindex_scim_group_members_1"}


def users(populated: Populated, text: str | None = None, **kwargs: Any) -> Callable[[Store], Any]:
    query = g.Query(filter=parse_filter(text) if text else None, **kwargs)
    return lambda tx: ScimStore(tx).users(populated.org, query)


# -- SCIM lookups and lists --------------------------------------------------------------------------------
USER_NAME_INDEXES = {"ix_members_org_user_name_ci", "uq_members_org_user_name_live"}
"""Both hold (org_id, lower(user_name)); the unique one only for live users, which every SCIM query is about."""


def test_username_eq(populated: Populated) -> None:
    plan = emitted(populated, users(populated, 'userName eq "USER1234@big.example"'), "FROM members")
    # on PostgreSQL the text_pattern_ops index serves equality as well; the unique index of live userNames fits too
    assert_fits(plan, USER_NAME_INDEXES | {"ix_members_org_user_name_prefix"}, "members")


@pytest.mark.parametrize(
    "text",
    ['emails[type eq "work"].value eq "ada.lovelace.0@big.example"', 'emails.value eq "home7@mail.example"'],
)
def test_emails_filter(populated: Populated, text: str) -> None:
    plan = emitted(populated, users(populated, text), "FROM members")
    assert_fits(plan, "ix_scim_user_emails_org_value", "scim_user_emails")
    assert_fits(plan, MEMBERS_PK, "members")


def test_external_id_eq(populated: Populated) -> None:
    plan = emitted(populated, users(populated, 'externalId eq "ext-1234"'), "FROM members")
    assert_fits(plan, "ix_members_org_external_id", "members")


@pytest.mark.parametrize(
    ("text", "index"),
    [
        (f'{ENTERPRISE}:employeeNumber eq "e-big-001234"', "ix_members_org_employee_number"),
        (
            f'{ENTERPRISE}:employeeNumber eq "E-BIG-001234" and active eq true',
            "ix_members_org_employee_number",
        ),
        (f'{ENTERPRISE}:manager.value eq "MANAGER"', "ix_members_org_manager"),
    ],
    ids=["employeeNumber", "employeeNumber-active", "manager"],
)
def test_enterprise_lookup_eq(populated: Populated, text: str, index: str) -> None:
    """The Okta / Entra ID matching lookups: ``(org_id, lower(<JSON path>))`` serves them on both stores."""
    text = text.replace("MANAGER", populated.member_ids[40])
    plan = emitted(populated, users(populated, text), "FROM members")
    assert_fits(plan, index, "members")


def test_username_sw_is_an_index_range(populated: Populated) -> None:
    plan = emitted(populated, users(populated, 'userName sw "user123"'), "FROM members")
    index = USER_NAME_INDEXES if populated.dialect == "sqlite" else "ix_members_org_user_name_prefix"
    assert_fits(plan, index, "members")


@pytest.mark.parametrize("offset", [0, 1500], ids=["first", "middle"])
def test_list_page_reads_ids_from_the_list_order_index(populated: Populated, offset: int) -> None:
    plan = emitted(populated, users(populated, offset=offset, limit=100), "LIMIT")
    assert_fits(plan, "ix_members_org_created", "members")
    assert_no_sort_below_limit(plan)


def test_list_total_reads_the_kept_size(populated: Populated) -> None:
    """An unfiltered list's total is the sum of its ``list_counts`` rows, found by their primary key."""
    plan = emitted(populated, users(populated, offset=1500, limit=100), "list_counts")
    assert_fits(plan, {"pk_list_counts", "sqlite_autoindex_list_counts_1"}, "list_counts")


def test_filtered_list_count_uses_an_index(populated: Populated) -> None:
    plan = emitted(populated, users(populated, 'userName sw "user1"', limit=100), "count(")
    index = USER_NAME_INDEXES if populated.dialect == "sqlite" else "ix_members_org_user_name_prefix"
    assert_fits(plan, index, "members")


def test_cursor_page_starts_at_its_position(populated: Populated) -> None:
    key = (START + timedelta(seconds=700), populated.member_ids[2100])
    plan = emitted(populated, users(populated, limit=101, after=key), "LIMIT")
    assert_fits(plan, "ix_members_org_created", "members")
    assert_no_sort_below_limit(plan)
    if populated.dialect == "sqlite":
        assert any("(created_at,id)>" in d.replace(" ", "") for _, _, d in plan.lines), plan.text()
    else:
        conds = [
            n.get("Index Cond", "") for n in plan.nodes() if n.get("Index Name") == "ix_members_org_created"
        ]
        assert any("ROW(" in c for c in conds), plan.text()


def test_groups_list_page(populated: Populated) -> None:
    query = g.Query(offset=10, limit=5)
    plan = emitted(populated, lambda tx: ScimStore(tx).groups(populated.org, query), "LIMIT")
    assert_fits(plan, "ix_scim_groups_org_created", "scim_groups")
    assert_no_sort_below_limit(plan)


def test_group_member_lookups(populated: Populated) -> None:
    gid = populated.group_ids[3]
    plan = emitted(
        populated, lambda tx: ScimStore(tx).group_members(populated.org, [gid]), "scim_group_members"
    )
    assert_fits(plan, GROUP_MEMBERS_PK, "scim_group_members")
    assert_fits(plan, MEMBERS_PK, "members")

    ids = populated.member_ids[10:20]
    plan = emitted(
        populated, lambda tx: ScimStore(tx).groups_of_members(populated.org, ids), "scim_group_members"
    )
    assert_fits(plan, "ix_scim_group_members_org_member", "scim_group_members")

    plan = emitted(populated, lambda tx: ScimStore(tx).live_member_ids(populated.org, ids), "FROM members")
    assert_fits(plan, MEMBERS_PK, "members")


def test_emails_delete_uses_the_member_index(populated: Populated) -> None:
    mid = populated.member_ids[42]
    emails = [{"value": "x@big.example", "type": "work", "primary": True}]
    plan = emitted(
        populated, lambda tx: ScimStore(tx).set_user_emails(populated.org, mid, emails), "DELETE FROM"
    )
    assert_fits(plan, "ix_scim_user_emails_member_org", "scim_user_emails")


# -- admin lists and checks --------------------------------------------------------------------------------
def test_count_active_admins_reads_one_index(populated: Populated) -> None:
    plan = emitted(populated, lambda tx: tx.count_active_admins(populated.org), "count(")
    assert_fits(plan, "ix_members_org_role_status", "members")


@pytest.mark.parametrize("q", ["lovelace.12", "Ada Lovelace 21", "Ritchie 88"])
def test_member_search_uses_the_search_index(populated: Populated, q: str) -> None:
    plan = emitted(populated, lambda tx: tx.members(populated.org, query=q, limit=50), "LIMIT")
    if populated.dialect == "sqlite":
        assert any("VIRTUAL TABLE" in d and "members_search" in d for _, _, d in plan.lines), plan.text()
        assert_fits(plan, MEMBERS_PK, "members")
    else:
        trigram = {"ix_members_search_email", "ix_members_search_display_name", "ix_members_search_full_name"}
        assert plan.indexes() >= trigram, plan.text()
        assert_fits(plan, trigram, "members")


def test_member_list_keyset_page(populated: Populated) -> None:
    # The smaller organization: in the big one (80% of the table) PostgreSQL rightly walks the global
    # live-email index and filters by org; an organization that is a fraction of the table is the usual case.
    after = ("grace.hopper.1001@small.example",)
    plan = emitted(populated, lambda tx: tx.members(populated.other, limit=51, after=after), "LIMIT")
    assert_fits(plan, {"uq_members_org_id_email", "sqlite_autoindex_members_2"}, "members")
    assert_no_sort_below_limit(plan)


@pytest.mark.parametrize("after", [None, (START + timedelta(seconds=500), 10**9)], ids=["first", "keyset"])
def test_audit_list(populated: Populated, after: Any) -> None:
    plan = emitted(populated, lambda tx: tx.audit_events(populated.org, limit=51, after=after), "LIMIT")
    assert_fits(plan, "ix_audit_events_org_at", "audit_events")
    assert_no_sort_below_limit(plan)


def test_invitations_keyset_page(populated: Populated) -> None:
    after = (START + timedelta(seconds=400), "z")
    now = START + timedelta(days=1)
    plan = emitted(populated, lambda tx: tx.invitations(populated.org, now, limit=51, after=after), "LIMIT")
    assert_fits(plan, "ix_invitations_org_created", "invitations")
    assert_no_sort_below_limit(plan)


# -- plans cached while the tables are small ---------------------------------------------------------------
def _member_row(org: str, i: int, at: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "org_id": org, "email": f"user{i}@fresh.example", "role": "member",
        "status": "active", "joined_via": "scim", "user_name": f"user{i}@fresh.example", "scim_linked": True,
        "version": 1, "attributes": {}, "created_at": at, "updated_at": at,
    }  # fmt: skip


_MEMBERS_READ = """
SELECT pg_stat_get_xact_tuples_returned('members'::regclass)
     + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)), 0) FROM pg_index
        WHERE indrelid = 'members'::regclass)
"""
"""Rows of members read so far in this transaction: by sequential scans, and index entries by index scans."""


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL caches plans per connection")
def test_plans_cached_while_tables_are_small_follow_the_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database fresh from the migrations, used as a first SCIM sync uses it, with autovacuum never coming
    (it is off on the server or for the table): one connection joins a dozen members while the organization is
    tiny, so psycopg prepares the hot statements and PostgreSQL caches generic plans for them and for the
    foreign-key checks of each insert; then the organization grows, and the same work must read a few rows of
    members, not the organization.

    Two things broke that. A migration's ANALYZE of the empty tables, whose statistics said "empty": every
    cached plan was a sequential scan of members (a table never analyzed is costed as at least ten pages, where
    the index wins). And, without statistics, a cached plan of the join's ``(org_id, email)`` lookup that picked
    another ``(org_id, ...)`` index and walked the whole organization; the engine's statistics hook analyzes
    what autovacuum would have (here at every check-in), which makes the connection plan again."""
    monkeypatch.setattr(statistics, "POSTGRES_EVERY", 1)
    url = create_postgres_database()
    db = Database(url, pool_size=1, max_overflow=0)  # one connection: the one whose plans are cached
    try:
        upgrade(url)
        org, project = str(uuid.uuid4()), str(uuid.uuid4())
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE members SET (autovacuum_enabled = false)")
            conn.execute(
                sa.insert(organizations),
                {"id": org, "slug": "fresh", "name": "Fresh", "mode": "sso", "multi_project": False,
                 "created_at": START},
            )  # fmt: skip
            conn.execute(
                sa.insert(projects),
                {
                    "id": project,
                    "org_id": org,
                    "name": "Default Project",
                    "is_default": True,
                    "created_at": START,
                },
            )

        def join(i: int) -> int:
            """Member ``i`` joins (its row and Default Project membership: foreign-key checks on members) after
            the identity provider's lookup and the join's email check; the rows of members read."""
            with db.transaction() as tx:
                email = f"user{i}@fresh.example"
                ScimStore(tx).users_with_groups(org, g.Query(filter=parse_filter(f'userName eq "{email}"')))
                tx.member_and_block(org, email)
                row = _member_row(org, i, START)
                tx.session.execute(sa.insert(members), row)
                tx.session.execute(
                    sa.insert(project_memberships),
                    {"id": str(uuid.uuid4()), "org_id": org, "project_id": project, "member_id": row["id"],
                     "created_at": START},
                )  # fmt: skip
                read = tx.session.execute(sa.text(_MEMBERS_READ)).scalar_one()
            return int(read)

        for i in range(12):
            join(i)
        with db.engine.begin() as conn:  # the same pooled connection
            conn.execute(sa.insert(members), [_member_row(org, i, START) for i in range(100, 5100)])
            # A backend reports its counts (which the hook reads) at most once a second; now, at this commit.
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        assert join(12) <= 3, "a plan cached while members was small reads the organization"
    finally:
        db.dispose()
        drop_postgres_database(url)
