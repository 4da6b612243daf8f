"""Where a browser may be sent after sign-in: only paths of the gateway itself (no open redirects)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")


def safe_next(target: str | None, default: str = "/me") -> str:
    """``target`` if it is a local absolute path, else ``default``.

    Refuses scheme-relative (``//evil``), backslash (``/\\evil``), absolute URLs and their percent-encoded
    forms, control characters, and anything a browser could read as another host.
    """
    if not target or len(target) > 2048:
        return default
    decoded = target
    for _ in range(3):
        decoded = unquote(decoded)
    for candidate in (target, decoded):
        if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
            return default
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    if not _SAFE_PATH.match(target):
        return default
    return target
