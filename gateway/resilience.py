"""Requests that survive a database blip: every view and before-request hook runs under
``call_with_retries`` (see ``gateway.storage.errors``), so a stale pooled connection after an outage, a busy
SQLite file or a PostgreSQL serialization failure is retried before any adapter answers 503."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask

from gateway.storage.errors import DEFAULT_POLICY, RetryPolicy, call_with_retries


def retrying(fn: Callable[..., Any], policy: RetryPolicy = DEFAULT_POLICY) -> Callable[..., Any]:
    if getattr(fn, "__gateway_retrying__", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return call_with_retries(lambda: fn(*args, **kwargs), policy)

    wrapper.__gateway_retrying__ = True  # type: ignore[attr-defined]
    return wrapper


def install_retries(app: Flask, policy: RetryPolicy = DEFAULT_POLICY) -> None:
    """Wrap every registered view function and before-request hook (call after registering blueprints)."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = retrying(view, policy)
    for scope, hooks in app.before_request_funcs.items():
        app.before_request_funcs[scope] = [retrying(hook, policy) for hook in hooks]
