"""Every Prometheus metric of the gateway, correct across worker processes.

``gateway serve`` runs gunicorn with several workers; each keeps its own counters. With
``PROMETHEUS_MULTIPROC_DIR`` set (``gateway serve`` sets it up, empty, before the workers start), prometheus-client
writes every value to a per-process file there and ``/metrics`` sums them, whichever worker answers the scrape
(gunicorn's ``child_exit`` hook drops the live gauges of a worker that exited). Without it (tests, ``flask
run``) the values live in this process's ``REGISTRY``.

What is in the database (outbox queue depth and dead letters) is read from the database at scrape time, so it is
right however many processes deliver.

Other modules increment the metrics defined here, e.g. ``RATE_LIMITED.labels(scope="scim").inc()`` when a
request is refused for its rate.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SCIM_OPERATIONS = Counter(
    "gateway_scim_operations_total",
    "SCIM requests by resource, method and outcome",
    ["resource", "method", "outcome"],
    registry=REGISTRY,
)
SIGN_INS = Counter(
    "gateway_sign_ins_total",
    "Sign-ins by protocol (saml, oidc, platform), outcome (succeeded, refused) and reason",
    ["protocol", "outcome", "reason"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "gateway_outbox_delivery_attempts_total",
    "Outbox delivery attempts (emails, webhooks) by kind and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "gateway_outbox_dead_letters_total",
    "Outbox messages given up on (dead-lettered), by kind",
    ["kind"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_total",
    "Requests refused by a rate limit, by scope",
    ["scope"],
    registry=REGISTRY,
)
DB_UNAVAILABLE = Counter(
    "gateway_db_unavailable_total",
    "Requests answered 503 because the database was unavailable",
    ["protocol"],
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "gateway_db_pool_connections_in_use",
    "Database connections checked out of the pools, summed over live processes",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "gateway_db_pool_size",
    "Configured size of the database pools, summed over live processes",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

SCIM_RESOURCES = frozenset(
    {"Users", "Groups", "Bulk", ".search", "Me", "ServiceProviderConfig", "ResourceTypes", "Schemas"}
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def outcome_of(status: int) -> str:
    """A small, fixed set of outcomes for a status code (bounded label cardinality)."""
    if status < 400:
        return "success"
    return {
        400: "invalid",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        412: "precondition_failed",
        413: "too_large",
        429: "rate_limited",
        503: "unavailable",
    }.get(status, "client_error" if status < 500 else "server_error")


def scim_resource(path: str) -> str:
    """``/scim/v2/Users/abc`` -> ``Users``; anything unknown is ``other``."""
    parts = path.split("/")
    resource = parts[3] if len(parts) > 3 and parts[3] else "root"
    if resource == "root" or resource in SCIM_RESOURCES:
        return resource
    return "other"


@functools.lru_cache(maxsize=1024)
def _request_series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one (method, route, status): the same children
    ``labels`` would find, kept, as looking them up cost more than counting (the cache is bounded, as a
    client chooses the method)."""
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route)


@functools.lru_cache(maxsize=1024)
def _scim_series(resource: str, method: str, outcome: str) -> Any:
    return SCIM_OPERATIONS.labels(resource, method, outcome)


def record_request(method: str, route: str, status: int, elapsed: float, path: str) -> None:
    requests, latency = _request_series(method, route, status)
    requests.inc()
    latency.observe(elapsed)
    if path.startswith("/scim/v2"):
        _scim_series(scim_resource(path), method, outcome_of(status)).inc()


def record_sign_in(action: str, details: dict[str, Any], blueprint: str | None) -> None:
    """Count one audited sign-in outcome (``sign_in.succeeded`` / ``sign_in.refused``)."""
    outcome = action.removeprefix("sign_in.")
    if details.get("via") == "platform" or blueprint == "login":
        protocol = "platform"
    elif blueprint in ("saml", "oidc"):
        protocol = blueprint
    else:
        protocol = "other"
    reason = str(details.get("reason") or details.get("outcome") or "none")[:64]
    SIGN_INS.labels(protocol, outcome, reason).inc()


def record_delivery(kind: str, ok: bool, dead: bool) -> None:
    DELIVERY_ATTEMPTS.labels(kind, "delivered" if ok else "failed").inc()
    if dead:
        DEAD_LETTERS.labels(kind).inc()


def watch_pool(engine: sa.Engine) -> None:
    """Keep ``gateway_db_pool_*`` up to date from the engine's pool events."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.inc(size())
    sa.event.listen(pool, "checkout", lambda *_: DB_POOL_IN_USE.inc())
    sa.event.listen(pool, "checkin", lambda *_: DB_POOL_IN_USE.dec())


class DatabaseCollector(Collector):
    """Scrape-time figures read from the database: the outbox queue by kind and status."""

    def __init__(self, query: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.query = query

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "gateway_outbox_messages",
            "Outbox messages waiting (pending), being sent (sending) or given up (dead), by kind",
            labels=["kind", "status"],
        )
        try:
            rows = list(self.query())
        except Exception:
            rows = []  # the database is away: /readyz says so; the scrape still answers
        for kind, status, count in rows:
            depth.add_metric([kind, status], count)
        yield depth


def exposition(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text a scrape gets: every process's metrics (multiprocess mode) or this one's, plus ``extra``."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        base = CollectorRegistry()
        mp.MultiProcessCollector(base)
    else:
        base = REGISTRY
    scrape = CollectorRegistry()
    for collector in extra:
        scrape.register(collector)
    return generate_latest(base) + generate_latest(scrape), CONTENT_TYPE_LATEST


def child_exit(pid: int) -> None:
    """gunicorn's ``child_exit``: forget the live gauges of a worker that is gone."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


def prepare_multiproc_dir(path: str) -> None:
    """Create ``path`` and empty it of an earlier run's files (stale counters would be summed otherwise)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def sign_in_listener(_tx: object, topic: str, payload: dict[str, Any]) -> None:
    """A services listener: every audited sign-in outcome is counted where it is audited."""
    if topic != "audit":
        return
    event = payload.get("event")
    action = getattr(event, "action", "")
    if not action.startswith("sign_in."):
        return
    from flask import has_request_context, request

    blueprint = request.blueprint if has_request_context() else None
    record_sign_in(action, dict(getattr(event, "details", None) or {}), blueprint)


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


def outbox_depth(engine: sa.Engine) -> Callable[[], list[tuple[str, str, int]]]:
    """A query for ``DatabaseCollector``: open and dead outbox messages by kind and status."""
    from gateway.storage.outbox_tables import MessageStatus
    from gateway.storage.outbox_tables import outbox_messages as t

    statuses = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.DEAD)

    def query() -> list[tuple[str, str, int]]:
        stmt = (
            sa.select(t.c.kind, t.c.status, sa.func.count())
            .where(t.c.status.in_(statuses))
            .group_by(t.c.kind, t.c.status)
        )
        with engine.connect() as conn:
            return [(_text(k), _text(s), int(n)) for k, s, n in conn.execute(stmt)]

    return query
