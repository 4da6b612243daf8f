"""The demo IdP's RS256 signing key: generated once into the instance folder, shared by every process.

Several gunicorn workers may start at once: each writes its candidate to a private temporary file and
hard-links it into place, which fails if another worker got there first; everyone then reads the one file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

KEY_FILE = "demo-idp-signing-key.pem"
KEY_BITS = 2048


class SigningKey:
    def __init__(self, key: RSAKey) -> None:
        self.key = key
        self.kid = key.thumbprint()

    @classmethod
    def load_or_create(cls, instance_path: str | Path) -> SigningKey:
        path = Path(instance_path) / KEY_FILE
        if not path.exists():
            _create(path)
        return cls(RSAKey.import_key(path.read_bytes()))

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig", "alg": "RS256"}


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = RSAKey.generate_key(KEY_BITS, private=True).as_pem(private=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".demo-idp-key-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process won: its key is the one
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
