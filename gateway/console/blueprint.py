"""The console's blueprint: pages under ``/admin``, templates in ``templates/console``, CSS in ``static``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
