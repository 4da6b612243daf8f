"""The one blueprint every admin API route module registers on, mounted at ``/api/v1``."""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
