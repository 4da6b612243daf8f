"""A connection's life in the console: edit it, rotate an OIDC client secret, refresh SAML metadata from its
URL, disable or delete it with a preview.

Taking away the last enabled connection of an organization in SSO mode (disable or delete) is never a single
click: the console explains in words that nobody will be able to sign in and asks the Admin to type the
connection's ID to confirm the override.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import checked, field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.console.routes.connections import _connection, _connection_page, oidc_connections
from gateway.domain import model as m
from gateway.domain.cutover import LastConnection
from gateway.domain.errors import DomainError, InvalidInput
from gateway.services.connection_lifecycle import (
    OIDC_CLAIM_KEYS,
    SAML_ATTRIBUTE_KEYS,
    ConnectionEdit,
)
from gateway.wiring import services


def _back(connection_id: str) -> ResponseReturnValue:
    return redirect(url_for("console.connection", connection_id=connection_id), code=303)


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


@bp.post("/connections/<connection_id>/edit")
def edit_connection(connection_id: str) -> ResponseReturnValue:
    connection = _connection(connection_id)
    saml = connection.protocol is m.ConnectionProtocol.SAML
    keys = SAML_ATTRIBUTE_KEYS if saml else OIDC_CLAIM_KEYS
    edit = ConnectionEdit(
        name=text("name", 300),
        domains=_words(text("domains", 5000)),
        admin_groups=[g for g in (request.form.get("admin_groups") or "").splitlines() if g.strip()],
        attributes={k: text(f"attr_{k}", 500) for k in keys if f"attr_{k}" in request.form},
        allow_idp_initiated=checked("allow_idp_initiated") if saml else None,
    )
    svc = services()
    try:
        svc.connection_lifecycle.edit(viewer().org.id, connection_id, edit, viewer().actor())
        if saml:
            svc.saml_metadata.set_url(
                viewer().org.id, connection_id, text("metadata_url") or None, viewer().actor()
            )
    except DomainError as error:
        field = str(error.details.get("field") or "name")
        return _connection_page(connection_id, {f"edit_{field}": error.message}, 400)
    flash("The connection is saved.", "ok")
    return _back(connection_id)


# -- OIDC client secret --------------------------------------------------------------------------------------
@bp.post("/connections/<connection_id>/client-secret")
def rotate_client_secret(connection_id: str) -> ResponseReturnValue:
    service = oidc_connections()
    if service is None:
        raise InvalidInput("OpenID Connect is not installed in this gateway.")
    try:
        service.rotate_client_secret(
            viewer().org.id, connection_id, request.form.get("client_secret") or "", viewer().actor()
        )
    except DomainError as error:
        return _connection_page(connection_id, field_errors(error, "client_secret"), 400)
    flash(
        "The new client secret is in use. The old one is still tried until a sign-in works with the new one; "
        "drop it once the identity provider has revoked it.",
        "ok",
    )
    return _back(connection_id)


@bp.post("/connections/<connection_id>/client-secret/drop")
def drop_previous_client_secret(connection_id: str) -> ResponseReturnValue:
    service = oidc_connections()
    if service is None:
        raise InvalidInput("OpenID Connect is not installed in this gateway.")
    service.drop_previous_client_secret(viewer().org.id, connection_id, viewer().actor())
    flash("The old client secret is no longer tried.", "ok")
    return _back(connection_id)


# -- SAML metadata -------------------------------------------------------------------------------------------
@bp.post("/connections/<connection_id>/metadata/refresh")
def refresh_metadata(connection_id: str) -> ResponseReturnValue:
    try:
        result = services().saml_metadata.refresh(viewer().org.id, connection_id, viewer().actor())
    except DomainError as error:
        return _connection_page(connection_id, {"refresh": error.message}, 400)
    if not result.changed:
        flash("The metadata is unchanged.", "ok")
    else:
        parts = []
        if result.added:
            parts.append(f"{len(result.added)} new signing certificate(s) trusted")
        if result.removed:
            parts.append(f"{len(result.removed)} certificate(s) the IdP no longer lists dropped")
        if result.urls_changed:
            parts.append("the IdP's URLs updated")
        flash("Metadata refreshed: " + "; ".join(parts) + ".", "ok")
    return _back(connection_id)


# -- disable and delete --------------------------------------------------------------------------------------
def _confirmed(connection: m.SsoConnection) -> bool:
    """The Admin typed the connection's ID: the explicit override for the last enabled connection."""
    return text("confirm", 100) == connection.slug


def _override_page(connection: m.SsoConnection, doing: str, error: str | None = None) -> ResponseReturnValue:
    return render_template(
        "console/connection_override.html",
        title=f"{doing.capitalize()} {connection.name}?",
        section="console.connections",
        connection=connection,
        doing=doing,
        error=error,
    ), (409 if error is None else 400)


@bp.post("/connections/<connection_id>/disable")
def disable_connection(connection_id: str) -> ResponseReturnValue:
    """Disable; for the last enabled connection in SSO mode, first a page that asks for the override."""
    connection = _connection(connection_id)
    asked = "confirm" in request.form
    if asked and not _confirmed(connection):
        return _override_page(connection, "disable", f"Type {connection.slug} to confirm.")
    try:
        services().connections.set_enabled(
            viewer().org.id, connection_id, False, viewer().actor(), override=asked
        )
    except LastConnection:
        return _override_page(connection, "disable")
    flash(f"{connection.name} is disabled.", "ok")
    return _back(connection_id)


@bp.get("/connections/<connection_id>/delete")
@admin_page
def delete_preview(connection_id: str) -> ResponseReturnValue:
    preview = services().connection_lifecycle.delete_preview(viewer().org.id, connection_id)
    return render_template(
        "console/connection_delete.html",
        title=f"Delete {preview.connection.name}",
        section="console.connections",
        preview=preview,
        connection=preview.connection,
        error=None,
    )


@bp.post("/connections/<connection_id>/delete")
def delete_connection(connection_id: str) -> ResponseReturnValue:
    svc = services()
    preview = svc.connection_lifecycle.delete_preview(viewer().org.id, connection_id)
    if preview.last_usable and not _confirmed(preview.connection):
        return render_template(
            "console/connection_delete.html",
            title=f"Delete {preview.connection.name}",
            section="console.connections",
            preview=preview,
            connection=preview.connection,
            error=f"Type {preview.connection.slug} to confirm that nobody will be able to sign in.",
        ), 400
    svc.connection_lifecycle.delete(
        viewer().org.id, connection_id, viewer().actor(), override=preview.last_usable
    )
    flash(
        f"{preview.connection.name} is deleted; {preview.sessions_ended} session(s) ended, every member kept.",
        "ok",
    )
    return redirect(url_for("console.connections"), code=303)
