"""The admin JSON API under ``/api/v1``: authentication, RFC 9457 problems, and one module per subject.
``create_app`` calls ``init_api``; the routes are registered on the blueprint when this package is imported."""

from __future__ import annotations

from flask import Flask

from gateway.api import auth, errors, routes
from gateway.api.blueprint import bp

__all__ = ["auth", "errors", "init_api", "routes"]


def init_api(app: Flask) -> None:
    app.register_blueprint(bp)
    errors.register_app_error_handler(app)
