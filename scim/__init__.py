"""The SCIM 2.0 protocol adapter (RFC 7643 / RFC 7644) at ``/scim/v2``.

``init_scim(app)`` registers one blueprint. Every request carries ``Authorization: Bearer <SCIM token>``;
the token decides the organization, and every lookup is scoped to it. Responses and errors are
``application/scim+json``.
"""

from __future__ import annotations

from flask import Flask

from gateway.services.cursors import CursorBox
from scim.discovery import CURSOR_TIMEOUT
from scim.views import bp


def init_scim(app: Flask) -> None:
    app.extensions["scim.provisioning"] = app.extensions["gateway.services"].provisioning
    app.extensions["scim.cursors"] = CursorBox(app.config["SECRET_KEY"], "scim", CURSOR_TIMEOUT)
    app.register_blueprint(bp)
