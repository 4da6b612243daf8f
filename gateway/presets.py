"""Identity-provider presets: each vendor's attribute and claim names and the IT admin's setup notes.

One TOML file per vendor in ``gateway/config/presets/`` (or ``$GATEWAY_CONFIG_DIR/presets/``) (okta, google, entra, jumpcloud, generic) with ``name``,
``notes``, a ``[saml]`` table and an ``[oidc]`` table. Adapters read them here and never parse the files
themselves, so a preset added as a file is available everywhere.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.domain.errors import InvalidInput
from gateway.settings import config_file

PRESETS_DIR = config_file("presets")
DEFAULT_PRESET = "generic"


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    notes: str
    saml: dict[str, Any] = field(default_factory=dict)
    oidc: dict[str, Any] = field(default_factory=dict)


def preset_names(directory: Path = PRESETS_DIR) -> list[str]:
    """The keys of every preset on disk, sorted (``generic`` included)."""
    return sorted(path.stem for path in directory.glob("*.toml"))


@functools.cache
def _load(directory: Path, key: str) -> Preset:
    path = directory / f"{key}.toml"
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return Preset(
        key=key,
        name=str(data.get("name", key)),
        notes=str(data.get("notes", "")).strip(),
        saml=dict(data.get("saml", {})),
        oidc=dict(data.get("oidc", {})),
    )


def load_preset(key: str | None, directory: Path = PRESETS_DIR) -> Preset:
    """The preset named ``key`` (``None`` or empty means ``generic``); ``InvalidInput`` for an unknown one."""
    key = (key or DEFAULT_PRESET).strip().lower()
    names = preset_names(directory)
    if key not in names:
        raise InvalidInput(
            f"Unknown identity-provider preset {key!r}; choose one of: {', '.join(names)}.",
            field="preset",
        )
    return _load(directory, key)
