"""Posting one signed event to one webhook endpoint. Any 2xx answer is a delivery; anything else (another
status, a redirect, a timeout, a refused connection) is a failed attempt that the worker retries later."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from gateway.domain.errors import InvalidInput
from gateway.outbox import signing
from gateway.services.outbound import Resolver, check_outbound_url, pinned_session, resolve

USER_AGENT = "identity-gateway-webhooks/1"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class WebhookSender:
    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float = 15.0,
        session: requests.Session | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        # Connections go to the address the policy checks when they open (no DNS rebinding).
        self.session = session or pinned_session(allow_private=allow_private, resolver=resolver)
        self.session.trust_env = False
        self.resolver = resolver

    def send(self, url: str, secret: str, msg_id: str, timestamp: int, body: str) -> SendResult:
        started = time.perf_counter()

        def done(**kwargs: object) -> SendResult:
            return SendResult(duration_ms=int((time.perf_counter() - started) * 1000), **kwargs)  # type: ignore[arg-type]

        try:
            check_outbound_url(
                url, what="webhook URL", field="url", allow_private=self.allow_private, resolver=self.resolver
            )
        except InvalidInput as error:
            return done(ok=False, error=error.message)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signing.headers(secret, msg_id, timestamp, body),
        }
        try:
            response = self.session.post(
                url, data=body.encode(), headers=headers, timeout=self.timeout, allow_redirects=False
            )
            response.close()
        except requests.RequestException as exc:
            host = urlsplit(url).hostname
            return done(ok=False, error=f"cannot reach {host}: {type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return done(ok=True, status_code=response.status_code)
        return done(ok=False, status_code=response.status_code, error=f"HTTP {response.status_code}")
