"""Growth: does an operation cost more in a big organization? One org is grown over SCIM Bulk to 1,000 members,
every operation is timed (median of ``samples`` sequential requests over HTTP), then the org is grown to N and
timed again. At N it also times adding up to 10,000 members to one group in one PATCH, and removing one member
from a group that holds every member. The gateway is served as in the side-by-side runs (gunicorn, 2 sync
workers)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from common import Gateway, free_port, gunicorn, log, temp_database
from scim_client import GROUP, PATCH_OP, bulk_create, check, median_ms, session, user

DOMAIN = "grow.example"
BASELINE = 1000
BIG_PATCH = 10_000

# (key, label) of every timed operation, in the order of the table.
OPERATIONS = [
    ("create", "SCIM `POST /Users`"),
    ("deactivate", "SCIM `PATCH` `active=false`"),
    ("delete", "SCIM `DELETE /Users/{id}`"),
    ("user_name_eq", 'SCIM `filter=userName eq "..."`'),
    ("email_eq", 'SCIM `filter=emails[type eq "work"].value eq "..."`'),
    ("user_name_sw", 'SCIM `filter=userName sw "..."`'),
    ("middle_page", "SCIM `startIndex` page in the middle (count=100)"),
    ("admin_search", "admin API `GET /api/v1/members?q=...`"),
    ("admin_list", "admin API `GET /api/v1/members` (first page)"),
    ("audit_list", "admin API `GET /api/v1/audit-events` (first page)"),
]


@dataclass
class Growth:
    store: str
    members: int
    at_baseline: dict[str, float] = field(default_factory=dict)
    at_size: dict[str, float] = field(default_factory=dict)
    grow_rates: list[float] = field(default_factory=list)
    grow_seconds: float = 0.0
    big_patch_members: int = 0
    big_patch_ms: float = 0.0
    remove_one_group_size: int = 0
    remove_one_ms: float = 0.0
    analyzed: bool = False
    """PostgreSQL without autovacuum: ``VACUUM ANALYZE`` ran before each measurement (``_as_autovacuum_would``)."""


def _as_autovacuum_would(url: str) -> bool:
    """On a PostgreSQL server with autovacuum turned off (as on some test machines), run what autovacuum would
    have run by the time an organization has grown (``VACUUM ANALYZE``), so the plans measured are those of a
    production server. True when it ran."""
    if not url.startswith("postgresql"):
        return False
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("SHOW autovacuum").scalar() == "on":
                return False
            conn.exec_driver_sql("VACUUM ANALYZE")
            return True
    finally:
        engine.dispose()


def _name(i: int) -> str:
    return f"grow{i:07d}@{DOMAIN}"


class Org:
    """The grown organization as the timing code sees it: ids by index, ids not yet used up."""

    def __init__(self, base: str, api: str, token: str, api_key: str) -> None:
        self.base, self.api, self.token, self.api_key = base, api, token, api_key
        self.ids: list[str] = []
        self.spare: list[int] = []  # indexes of members that a PATCH/DELETE sample may still use up
        self.scim = session(token)
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"Bearer {api_key}"

    def grow(self, to: int, rates: list[float]) -> float:
        """Grow to ``to`` members; the seconds it took."""
        start = len(self.ids)
        if to <= start:
            return 0.0
        started = time.perf_counter()
        ids, chunk_rates = bulk_create(self.base, self.token, [_name(i) for i in range(start, to)], 100, 2)
        self.ids.extend(ids)
        rates.extend(chunk_rates)
        self.spare.extend(range(start, to))
        random.shuffle(self.spare)
        return time.perf_counter() - started

    def measure(self, samples: int, tag: str) -> dict[str, float]:
        rng = random.Random(len(self.ids))
        size = len(self.ids)
        s, admin = self.scim, self.admin

        def filt(expr: str) -> Callable[[], requests.Response]:
            return lambda: s.get(f"{self.base}/Users", params={"filter": expr})

        spare = [self.spare.pop() for _ in range(2 * samples)]
        picks = rng.sample(self.spare, min(samples, len(self.spare)))  # live, active members
        off = json.dumps(
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        )
        out = {
            "create": median_ms(
                (
                    lambda j=j: s.post(f"{self.base}/Users", data=json.dumps(user(f"new-{tag}-{j}@{DOMAIN}")))
                    for j in range(samples)
                ),
                201,
            ),
            "deactivate": median_ms(
                (lambda i=i: s.patch(f"{self.base}/Users/{self.ids[i]}", data=off) for i in spare[:samples]),
                200,
                204,
            ),
            "delete": median_ms(
                (lambda i=i: s.delete(f"{self.base}/Users/{self.ids[i]}") for i in spare[samples:]), 204
            ),
            "user_name_eq": median_ms((filt(f'userName eq "{_name(i)}"') for i in picks), 200),
            "email_eq": median_ms(
                (filt(f'emails[type eq "work"].value eq "{_name(i)}"') for i in picks), 200
            ),
            "user_name_sw": median_ms((filt(f'userName sw "{_name(i)[:10]}"') for i in picks), 200),
            "middle_page": median_ms(
                (
                    lambda: s.get(f"{self.base}/Users", params={"startIndex": size // 2, "count": 100})
                    for _ in range(samples)
                ),
                200,
            ),
            "admin_search": median_ms(
                (lambda i=i: admin.get(f"{self.api}/members", params={"q": _name(i)[4:11]}) for i in picks),
                200,
            ),
            "admin_list": median_ms((lambda: admin.get(f"{self.api}/members") for _ in range(samples)), 200),
            "audit_list": median_ms(
                (lambda: admin.get(f"{self.api}/audit-events") for _ in range(samples)), 200
            ),
        }
        return out

    def groups(self, samples: int, result: Growth) -> None:
        """One PATCH adding up to 10,000 members, then the rest, then single removals from the full group."""
        s = self.scim
        unused = set(self.spare)
        live = [i for i in range(len(self.ids)) if i in unused]
        group = check(
            s.post(f"{self.base}/Groups", data=json.dumps({"schemas": [GROUP], "displayName": "Everyone"})),
            201,
        ).json()
        url = f"{self.base}/Groups/{group['id']}"

        def add(indexes: list[int]) -> float:
            body = {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": self.ids[i]} for i in indexes]}
                ],
            }
            started = time.perf_counter()
            check(s.patch(url, data=json.dumps(body), timeout=600), 200, 204)
            return (time.perf_counter() - started) * 1000

        first = live[:BIG_PATCH]
        result.big_patch_members, result.big_patch_ms = len(first), add(first)
        for k in range(BIG_PATCH, len(live), BIG_PATCH):
            add(live[k : k + BIG_PATCH])
        result.remove_one_group_size = len(live)
        rng = random.Random(7)
        victims = rng.sample(live, min(samples, len(live)))

        def remove(i: int) -> requests.Response:
            body = {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "remove", "path": f'members[value eq "{self.ids[i]}"]'}],
            }
            return s.patch(url, data=json.dumps(body))

        result.remove_one_ms = median_ms((lambda i=i: remove(i) for i in victims), 200, 204)


def run(store: str, workdir: Path, members: int, samples: int) -> Growth:
    result = Growth(store, members)
    with temp_database(store, workdir) as url:
        port = free_port()
        gw = Gateway.prepare(url, workdir, port)
        seeded = gw.seed_org(name="Growth", domain=DOMAIN)
        with gunicorn("gateway.wsgi:app", port, gw.env, workdir / f"growth-{store}.log"):
            root = f"http://127.0.0.1:{port}"
            org = Org(f"{root}/scim/v2", f"{root}/api/v1", seeded.scim_token, seeded.api_key)
            log(f"growth/{store}: growing one org to {BASELINE} members over Bulk")
            result.grow_seconds = org.grow(BASELINE, result.grow_rates)
            result.analyzed = _as_autovacuum_would(url)
            result.at_baseline = org.measure(samples, "base")
            log(
                f"growth/{store}: at {BASELINE}: "
                + ", ".join(f"{k} {v:.1f}" for k, v in result.at_baseline.items())
            )
            log(f"growth/{store}: growing to {members} members over Bulk")
            result.grow_seconds += org.grow(members, result.grow_rates)
            _as_autovacuum_would(url)
            result.at_size = org.measure(samples, "size")
            log(
                f"growth/{store}: at {members}: "
                + ", ".join(f"{k} {v:.1f}" for k, v in result.at_size.items())
            )
            org.groups(samples, result)
            log(
                f"growth/{store}: {result.big_patch_members} members in one PATCH {result.big_patch_ms:.0f} ms; "
                f"remove one of {result.remove_one_group_size}: {result.remove_one_ms:.1f} ms"
            )
    return result
