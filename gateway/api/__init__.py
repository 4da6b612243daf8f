"""The admin JSON API under /api/v1 (placeholder until the API lands)."""

from flask import Flask


def init_api(app: Flask) -> None:
    return None
