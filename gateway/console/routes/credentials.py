"""Bearer credentials: SCIM tokens (with the SCIM base URL and recent SCIM activity) and admin API keys.

A new token appears only in the answer to the post that created it, with a copy button, and never again."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.console.routes.scim_admin import scim_admin_context
from gateway.domain import model as m
from gateway.domain.errors import DomainError
from gateway.wiring import services, settings

SCIM_EVENTS_SHOWN = 25


def _no_store(html: str, status: int = 200) -> ResponseReturnValue:
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- SCIM ------------------------------------------------------------------------------------------------
def _scim_page(
    *, errors: dict[str, str] | None = None, name: str = "", new_token: str | None = None, status: int = 200
) -> ResponseReturnValue:
    org_id = viewer().org.id
    html = render_template(
        "console/scim.html",
        title="SCIM provisioning",
        section="console.scim",
        base_url=settings().url("/scim/v2"),
        tokens=services().credentials.scim_tokens(org_id),
        events=services().audit.list(org_id, actor_type=m.ActorType.SCIM_TOKEN, limit=SCIM_EVENTS_SHOWN)[0],
        refusals=services().audit.list(org_id, action="scim.*", limit=SCIM_EVENTS_SHOWN)[0],
        errors=errors,
        name=name,
        new_token=new_token,
        **scim_admin_context(org_id),
    )
    return _no_store(html, status)


@bp.get("/scim")
@admin_page
def scim() -> ResponseReturnValue:
    return _scim_page()


@bp.post("/scim/tokens")
def create_scim_token() -> ResponseReturnValue:
    name = text("name", 300)
    try:
        issued = services().credentials.create_scim_token(viewer().org.id, viewer().actor(), name or None)
    except DomainError as error:
        return _scim_page(errors=field_errors(error, "name"), name=name, status=400)
    return _scim_page(new_token=issued.token)


@bp.post("/scim/tokens/<token_id>/revoke")
def revoke_scim_token(token_id: str) -> ResponseReturnValue:
    token = services().credentials.revoke_scim_token(viewer().org.id, token_id, viewer().actor())
    flash(f"The SCIM token {token.prefix}… is revoked; the identity provider can no longer use it.", "ok")
    return redirect(url_for("console.scim"), code=303)


# -- API keys --------------------------------------------------------------------------------------------
def _keys_page(
    *, errors: dict[str, str] | None = None, name: str = "", new_key: str | None = None, status: int = 200
) -> ResponseReturnValue:
    org_id = viewer().org.id
    keys = services().credentials.api_keys(org_id)
    projects = {p.id: p.name for p in services().projects.list(org_id)}
    html = render_template(
        "console/api_keys.html",
        title="API keys",
        section="console.api_keys",
        keys=keys,
        projects=projects,
        api_url=settings().url("/api/v1"),
        errors=errors,
        name=name,
        new_key=new_key,
    )
    return _no_store(html, status)


@bp.get("/api-keys")
@admin_page
def api_keys() -> ResponseReturnValue:
    return _keys_page()


@bp.post("/api-keys")
def create_api_key() -> ResponseReturnValue:
    name = text("name", 300)
    try:
        issued = services().credentials.create_admin_key(viewer().org.id, viewer().actor(), name or None)
    except DomainError as error:
        return _keys_page(errors=field_errors(error, "name"), name=name, status=400)
    return _keys_page(new_key=issued.token)


@bp.post("/api-keys/<key_id>/revoke")
def revoke_api_key(key_id: str) -> ResponseReturnValue:
    key = services().credentials.revoke_api_key(viewer().org.id, key_id, viewer().actor())
    flash(f"The API key {key.prefix}… is revoked.", "ok")
    return redirect(url_for("console.api_keys"), code=303)
