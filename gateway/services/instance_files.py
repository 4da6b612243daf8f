"""Files the gateway generates once into its instance folder (the demo IdP's signing keys).

Several gunicorn workers (and the ``gateway`` CLI) may start at once: each writes its candidate to a private
temporary file and hard-links it into place, which fails if another process got there first; everyone then
reads the one file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``; when it does not exist, ``make()`` written there first (mode 0600)."""
    if not path.exists():
        _write_once(path, make())
    return path.read_bytes()


def _write_once(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process won: its file is the one
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
