"""Structured JSON logs carrying a request id, and Prometheus metrics. Secrets never reach the logs:
only method, path (without query string), status and timing are logged for a request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client.registry import Collector

from gateway import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "method", "path", "status", "duration_ms", "client_ip", "org_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())


def request_id() -> str | None:
    return g.get("request_id")


def init_observability(app: Flask, collectors: Iterable[Collector] = ()) -> None:
    """Request ids, one JSON log line per request, and the metrics of ``gateway.metrics`` at ``/metrics``
    (``collectors`` add scrape-time figures, such as the outbox queue read from the database)."""
    extra = list(collectors)
    log = logging.getLogger("gateway.http")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.record_request(request.method, route, response.status_code, elapsed, request.path)
        if response.status_code == 503 and "Retry-After" in response.headers:
            metrics.DB_UNAVAILABLE.labels(request.blueprint or "app").inc()
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if not log.isEnabledFor(logging.INFO):
            return response
        log.info(
            "request",
            extra={
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "client_ip": request.remote_addr,
            },
        )
        return response

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.exposition(extra)
        return Response(body, content_type=content_type)
