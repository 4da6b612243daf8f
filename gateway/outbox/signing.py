"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over ``id.timestamp.body``
with a ``whsec_``-prefixed base64 secret, sent as ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

SECRET_PREFIX = "whsec_"


def new_secret(randbytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh 256-bit signing secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(randbytes(32)).decode()


def _key(secret: str) -> bytes:
    body = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(body + "=" * (-len(body) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
