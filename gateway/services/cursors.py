"""Opaque, tamper-evident page cursors (the SCIM cursor of RFC 9865, the admin API's ``cursor``).

A cursor is ``base64url(JSON) "." tag`` where the tag is an HMAC-SHA256 (128 bits kept) over the body and a
*scope* the caller chooses: the organization and the query the cursor continues (path, filter, sort). A cursor
altered by hand, issued for another organization or another query, or sealed with another key does not open
(``InvalidCursor``); one older than its lifetime does not either (``ExpiredCursor``). The body is not secret
(a position in a list the caller may read anyway), only unforgeable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from gateway.domain.errors import InvalidInput

TAG_BYTES = 16


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


class ExpiredCursor(InvalidCursor):
    code = "expired_cursor"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorBox:
    def __init__(self, secret: str, purpose: str, lifetime: timedelta) -> None:
        self._key = hmac.new(secret.encode(), f"cursor:{purpose}".encode(), hashlib.sha256).digest()
        self.lifetime = lifetime

    def _tag(self, scope: str, body: str) -> str:
        digest = hmac.new(self._key, f"{scope}\n{body}".encode(), hashlib.sha256).digest()
        return _b64(digest[:TAG_BYTES])

    def seal(self, scope: str, payload: Any, now: datetime) -> str:
        body = _b64(json.dumps({"p": payload, "t": int(now.timestamp())}, separators=(",", ":")).encode())
        return f"{body}.{self._tag(scope, body)}"

    def open(self, token: str, scope: str, now: datetime) -> Any:
        """The payload sealed into ``token`` for ``scope``; raises ``InvalidCursor`` / ``ExpiredCursor``."""
        body, dot, tag = token.partition(".") if isinstance(token, str) else ("", "", "")
        if not dot or len(token) > 2048 or not hmac.compare_digest(self._tag(scope, body), tag):
            raise InvalidCursor(
                "The cursor is not one this server issued for this query; send the nextCursor or "
                "previousCursor of the previous page unchanged, with the same query, or an empty cursor."
            )
        try:
            sealed = json.loads(_unb64(body))
            issued = int(sealed["t"])
            payload = sealed["p"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidCursor("The cursor is damaged.") from None
        if now.timestamp() - issued > self.lifetime.total_seconds():
            raise ExpiredCursor(
                f"The cursor has expired (cursors are valid for {int(self.lifetime.total_seconds())} seconds); "
                "start again with an empty cursor."
            )
        return payload


def scope_of(*parts: Any) -> str:
    """A stable scope string for a query: its parts as canonical JSON, hashed."""
    canonical = json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
