"""Protections every response and request gets, whichever adapter serves it:

- security headers on every page: no framing (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), no
  content sniffing, a same-origin referrer policy, and HSTS in production. An adapter's own stricter headers
  (the console's full Content-Security-Policy) are kept;
- a streamed (chunked) request body is read up to the size limit and refused with 413 past it, instead of
  being cut at the limit and parsed truncated; each adapter answers the 413 in its own format;
- ``/metrics`` in production only with ``Authorization: Bearer <GATEWAY_METRICS_TOKEN>`` or from an address in
  ``GATEWAY_METRICS_ALLOWED_ADDRESSES``.
"""

from __future__ import annotations

import hmac
import io
import ipaddress

from flask import Flask, Response, abort, request

from gateway.settings import Settings, metrics_networks

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
FRAME_ANCESTORS = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def init_hardening(app: Flask, settings: Settings) -> None:
    networks = metrics_networks(settings.metrics_allowed_addresses)

    @app.before_request
    def _bounded_streamed_body() -> None:
        read_streamed_body(settings.max_request_bytes)

    @app.before_request
    def _metrics_guard() -> None:
        if request.path == "/metrics" and settings.is_production:
            guard_metrics(settings.metrics_token, networks)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # The headers already set, read once: werkzeug answers each lookup of a header that is not there by
        # raising (and catching) an HTTP exception, which cost a SCIM lookup about 1% of its time.
        present: dict[str, str] = {}
        for name, value in headers.items():
            present.setdefault(name.lower(), value)
        for name, value in HEADERS.items():
            if name.lower() not in present:
                headers.add(name, value)
        policy = present.get("content-security-policy")
        if policy is None:
            headers["Content-Security-Policy"] = FRAME_ANCESTORS
        elif "frame-ancestors" not in policy:
            headers["Content-Security-Policy"] = f"{policy}; {FRAME_ANCESTORS}"
        if settings.is_production and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", HSTS)
        return response


def read_streamed_body(limit: int) -> None:
    """A body without ``Content-Length`` (chunked) is read here, at most ``limit`` bytes plus one: past the
    limit the request is a 413; within it, the body is handed on as if it had been sent with its length."""
    environ = request.environ
    # With Transfer-Encoding: chunked a Content-Length header is ignored (RFC 9112 section 6.3).
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    if not environ.get("wsgi.input_terminated"):
        return  # werkzeug then reads no body at all (its safe fallback): nothing to truncate
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        abort(413)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def guard_metrics(token: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, sent = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        client = None
    if client is not None and any(client in network for network in networks):
        return
    abort(403)
