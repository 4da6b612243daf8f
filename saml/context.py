"""How the SAML endpoints reach their service and name the connection in the audit trail."""

from __future__ import annotations

from flask import current_app

from gateway.domain import model as m
from gateway.services.saml_connections import SamlConnectionService
from gateway.web.signin import request_actor


def saml_connections() -> SamlConnectionService:
    return current_app.extensions["gateway.saml_connections"]


def connection_actor(connection: m.SsoConnection) -> m.Actor:
    return request_actor(m.ActorType.MEMBER, connection.id, f"saml connection {connection.slug}")
