"""The admin web console under ``/admin``: server-rendered pages over the services, forms with CSRF protection.

``create_app`` calls ``init_console``; the routes register on the blueprint when this package is imported.
"""

from __future__ import annotations

from flask import Flask

from gateway.console import errors, guard, presenters, routes
from gateway.console.blueprint import bp

__all__ = ["errors", "guard", "init_console", "presenters", "routes"]


def init_console(app: Flask) -> None:
    app.register_blueprint(bp)
