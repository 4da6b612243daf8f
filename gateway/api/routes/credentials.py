"""Bearer credentials: admin API keys, project API keys and SCIM tokens. A token is shown once, in the
response that creates it; lists show only its non-secret prefix."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, Principal, access, principal, require_project_member
from gateway.api.blueprint import bp
from gateway.api.errors import ApiProblem, forbidden
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.api.schemas import OptionalNameBody, ProjectKeyBody
from gateway.domain import model as m
from gateway.domain.errors import NotFound
from gateway.wiring import services


# -- admin API keys --------------------------------------------------------------------------------------------
@bp.get("/api-keys")
@access(Access.ADMIN)
def list_admin_keys() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    keys = services().credentials.api_keys(principal().org.id, kind=m.ApiKeyKind.ADMIN)
    items, total = paging.window(keys)
    return jsonify(paging.body(items, total, out.api_key))


@bp.post("/api-keys")
@access(Access.ADMIN)
def create_admin_key() -> ResponseReturnValue:
    body = load_body(OptionalNameBody())
    caller = principal()
    issued = services().credentials.create_admin_key(caller.org.id, caller.actor(), body.get("name"))
    return jsonify({**out.api_key(issued.key), "token": issued.token}), 201


@bp.delete("/api-keys/<key_id>")
@access(Access.ADMIN)
def revoke_admin_key(key_id: str) -> ResponseReturnValue:
    caller = principal()
    key = services().credentials.get_api_key(caller.org.id, key_id)
    if key.kind is not m.ApiKeyKind.ADMIN:
        raise NotFound("No such admin API key; project keys are revoked under their project.")
    return jsonify(out.api_key(services().credentials.revoke_api_key(caller.org.id, key_id, caller.actor())))


# -- project API keys ------------------------------------------------------------------------------------------
@bp.get("/projects/<project_id>/api-keys")
@access(Access.MEMBER)
def list_project_keys(project_id: str) -> ResponseReturnValue:
    """Admins see every key of the project; a member sees their own."""
    paging = Paging.of(load_query(PageQuery()))
    caller = principal()
    services().projects.get(caller.org.id, project_id)
    require_project_member(caller, project_id)
    keys = services().credentials.api_keys(caller.org.id, kind=m.ApiKeyKind.PROJECT, project_id=project_id)
    if not caller.is_admin:
        keys = [k for k in keys if k.member_id == caller.member_id]
    items, total = paging.window(keys)
    return jsonify(paging.body(items, total, out.api_key))


@bp.post("/projects/<project_id>/api-keys")
@access(Access.MEMBER)
def create_project_key(project_id: str) -> ResponseReturnValue:
    """A key acting as a member inside this project: the caller, or for an Admin any ``member_id``."""
    body = load_body(ProjectKeyBody())
    caller = principal()
    services().projects.get(caller.org.id, project_id)
    require_project_member(caller, project_id)
    member_id = _key_member(caller, body.get("member_id"))
    issued = services().credentials.create_project_key(
        caller.org.id, project_id, member_id, caller.actor(), body.get("name")
    )
    return jsonify({**out.api_key(issued.key), "token": issued.token}), 201


def _key_member(caller: Principal, requested: str | None) -> str:
    if caller.is_admin:
        member_id = requested or caller.member_id
        if member_id is None:
            raise ApiProblem(
                422,
                "validation_failed",
                "An admin API key acts for no member: name the key's member in member_id.",
                title="Validation failed",
                errors={"member_id": ["Missing data for required field."]},
            )
        return member_id
    if requested is not None and requested != caller.member_id:
        raise forbidden("Members can only create project API keys for themselves.")
    assert caller.member_id is not None
    return caller.member_id


@bp.delete("/projects/<project_id>/api-keys/<key_id>")
@access(Access.MEMBER)
def revoke_project_key(project_id: str, key_id: str) -> ResponseReturnValue:
    caller = principal()
    key = services().credentials.get_api_key(caller.org.id, key_id)
    if key.kind is not m.ApiKeyKind.PROJECT or key.project_id != project_id:
        raise NotFound("No such API key in this project.")
    if not caller.is_admin and key.member_id != caller.member_id:
        raise forbidden("Members can only revoke their own project API keys.")
    return jsonify(out.api_key(services().credentials.revoke_api_key(caller.org.id, key_id, caller.actor())))


# -- SCIM tokens -----------------------------------------------------------------------------------------------
@bp.get("/scim-tokens")
@access(Access.ADMIN)
def list_scim_tokens() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().credentials.scim_tokens(principal().org.id))
    return jsonify(paging.body(items, total, out.scim_token))


@bp.post("/scim-tokens")
@access(Access.ADMIN)
def create_scim_token() -> ResponseReturnValue:
    body = load_body(OptionalNameBody())
    caller = principal()
    issued = services().credentials.create_scim_token(caller.org.id, caller.actor(), body.get("name"))
    return jsonify({**out.scim_token(issued.scim_token), "token": issued.token}), 201


@bp.delete("/scim-tokens/<token_id>")
@access(Access.ADMIN)
def revoke_scim_token(token_id: str) -> ResponseReturnValue:
    caller = principal()
    token = services().credentials.revoke_scim_token(caller.org.id, token_id, caller.actor())
    return jsonify(out.scim_token(token))
