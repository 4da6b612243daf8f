"""How adapters reach the services and settings that ``create_app`` wired into the Flask app."""

from __future__ import annotations

from flask import current_app

from gateway.services import Services
from gateway.settings import Settings


def services() -> Services:
    return current_app.extensions["gateway.services"]


def settings() -> Settings:
    return current_app.extensions["gateway.settings"]
