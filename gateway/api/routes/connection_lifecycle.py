"""A connection's life after setup: edit it, rotate an OIDC client secret, refresh SAML metadata from its
URL, preview and apply its deletion.

Deleting (and disabling) the last enabled connection of an organization in SSO mode is refused with
``409 last-connection`` unless ``?override=true`` says the Admin means it.
"""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_query
from gateway.api.schemas import ClientSecretBody, ConnectionOverrideQuery, ConnectionPatch
from gateway.domain.errors import InvalidInput, NotFound
from gateway.services.connection_lifecycle import ConnectionEdit
from gateway.services.oidc_connections import OidcConnectionService
from gateway.wiring import services, settings


def _detail(connection_id: str) -> ResponseReturnValue:
    for connection in services().connections.list(principal().org.id):
        if connection.id == connection_id:
            return jsonify(out.connection_detail(connection, settings().url, services().clock()))
    raise NotFound("No such connection in this organization.")


def _oidc() -> OidcConnectionService:
    found = getattr(services(), "oidc_connections", None)
    if not isinstance(found, OidcConnectionService):
        raise InvalidInput("OpenID Connect is not installed in this gateway.", field="connection")
    return found


@bp.patch("/connections/<connection_id>")
@access(Access.ADMIN)
def edit_connection(connection_id: str) -> ResponseReturnValue:
    """Name, served domains, admin groups, attribute or claim names, the SAML IdP-initiated switch and
    metadata URL; one audited ``connection.updated`` with what changed."""
    body = load_body(ConnectionPatch())
    caller = principal()
    svc = services()
    edit = ConnectionEdit(
        name=body.get("name"),
        domains=body.get("domains"),
        admin_groups=body.get("admin_groups"),
        attributes=body.get("attributes"),
        allow_idp_initiated=body.get("allow_idp_initiated"),
    )
    svc.connection_lifecycle.edit(caller.org.id, connection_id, edit, caller.actor())
    if "metadata_url" in body:
        svc.saml_metadata.set_url(caller.org.id, connection_id, body["metadata_url"], caller.actor())
    return _detail(connection_id)


@bp.get("/connections/<connection_id>/deletion-preview")
@access(Access.ADMIN)
def preview_connection_deletion(connection_id: str) -> ResponseReturnValue:
    preview = services().connection_lifecycle.delete_preview(principal().org.id, connection_id)
    return jsonify(out.deletion_preview(preview, deleted=False))


@bp.delete("/connections/<connection_id>")
@access(Access.ADMIN)
def delete_connection(connection_id: str) -> ResponseReturnValue:
    """Members keep their accounts; sessions the connection started end; audited and published."""
    override = load_query(ConnectionOverrideQuery())["override"]
    caller = principal()
    preview = services().connection_lifecycle.delete(
        caller.org.id, connection_id, caller.actor(), override=override
    )
    return jsonify(out.deletion_preview(preview, deleted=True))


@bp.post("/connections/<connection_id>/client-secret")
@access(Access.ADMIN)
def rotate_client_secret(connection_id: str) -> ResponseReturnValue:
    """Use a new OIDC client secret; the old one is still tried until a sign-in works with the new one or
    the Admin drops it (``DELETE .../previous-client-secret``)."""
    body = load_body(ClientSecretBody())
    caller = principal()
    _oidc().rotate_client_secret(caller.org.id, connection_id, body["client_secret"], caller.actor())
    return _detail(connection_id)


@bp.delete("/connections/<connection_id>/previous-client-secret")
@access(Access.ADMIN)
def drop_previous_client_secret(connection_id: str) -> ResponseReturnValue:
    caller = principal()
    _oidc().drop_previous_client_secret(caller.org.id, connection_id, caller.actor())
    return _detail(connection_id)


@bp.post("/connections/<connection_id>/metadata-refresh")
@access(Access.ADMIN)
def refresh_metadata(connection_id: str) -> ResponseReturnValue:
    """Fetch the SAML IdP's metadata from the connection's metadata URL now and apply it."""
    caller = principal()
    result = services().saml_metadata.refresh(caller.org.id, connection_id, caller.actor())
    return jsonify({"refresh": out.metadata_refresh(result)})
