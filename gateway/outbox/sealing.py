"""Secrets the outbox must keep readable for a while (an invitation link's token until its email is sent, a
webhook endpoint's signing secret) are stored encrypted with a key derived from the gateway's secret key, so a
copy of the database alone does not reveal them."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealError(ValueError):
    """A sealed value cannot be opened: it was sealed under another secret key, or it was altered."""


class Sealer:
    def __init__(self, secret_key: str, purpose: str = "gateway outbox") -> None:
        if not secret_key:
            raise ValueError("a secret key is required")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise SealError(
                "cannot decrypt a stored secret; was GATEWAY_SECRET_KEY changed since it was written?"
            ) from exc
