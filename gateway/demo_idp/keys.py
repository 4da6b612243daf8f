"""The demo IdP's RS256 signing key: generated once into the instance folder, shared by every process
(``gateway.services.instance_files``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

from gateway.services.instance_files import read_or_create

KEY_FILE = "demo-idp-signing-key.pem"
KEY_BITS = 2048


class SigningKey:
    def __init__(self, key: RSAKey) -> None:
        self.key = key
        self.kid = key.thumbprint()

    @classmethod
    def load_or_create(cls, instance_path: str | Path) -> SigningKey:
        pem = read_or_create(
            Path(instance_path) / KEY_FILE,
            lambda: RSAKey.generate_key(KEY_BITS, private=True).as_pem(private=True),
        )
        return cls(RSAKey.import_key(pem))

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig", "alg": "RS256"}
