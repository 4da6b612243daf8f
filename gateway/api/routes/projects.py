"""Projects (rule 8), who belongs to them, and the resources built in them.

Members read projects and their member lists; they list and create resources only in projects they belong
to. A project API key reaches only its own project's resources.
"""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, acting_member, principal, require_project_member
from gateway.api.blueprint import bp
from gateway.api.errors import ApiProblem
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.api.schemas import NameBody, ResourceBody, ResourceQuery
from gateway.wiring import services


@bp.get("/projects")
@access(Access.READ)
def list_projects() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().projects.list(principal().org.id))
    return jsonify(paging.body(items, total, out.project))


@bp.post("/projects")
@access(Access.ADMIN)
def create_project() -> ResponseReturnValue:
    """403 ``feature-disabled`` unless the organization has the multi-project flag."""
    body = load_body(NameBody())
    caller = principal()
    project = services().projects.create(caller.org.id, body["name"], caller.actor())
    return jsonify(out.project(project)), 201


@bp.get("/projects/<project_id>")
@access(Access.READ)
def get_project(project_id: str) -> ResponseReturnValue:
    org_id = principal().org.id
    project = services().projects.get(org_id, project_id)
    _, members = services().projects.members(org_id, project_id, limit=1)
    return jsonify({**out.project(project), "member_count": members})


@bp.get("/projects/<project_id>/members")
@access(Access.READ)
def list_project_members(project_id: str) -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = services().projects.members(
        principal().org.id, project_id, offset=paging.offset, limit=paging.limit
    )
    return jsonify(paging.body(items, total, out.member))


@bp.get("/projects/<project_id>/members/<member_id>")
@access(Access.READ)
def get_project_member(project_id: str, member_id: str) -> ResponseReturnValue:
    org_id = principal().org.id
    services().projects.get(org_id, project_id)
    view = services().members.get(org_id, member_id)
    if all(p.id != project_id for p in view.projects):
        raise ApiProblem(404, "not_found", "This member does not belong to the project.")
    return jsonify(out.member(view.member))


@bp.put("/projects/<project_id>/members/<member_id>")
@access(Access.ADMIN)
def add_project_member(project_id: str, member_id: str) -> ResponseReturnValue:
    """Idempotent: adding a member who already belongs answers the existing membership."""
    caller = principal()
    membership = services().projects.add_member(caller.org.id, project_id, member_id, caller.actor())
    return jsonify(out.membership(membership))


@bp.delete("/projects/<project_id>/members/<member_id>")
@access(Access.ADMIN)
def remove_project_member(project_id: str, member_id: str) -> ResponseReturnValue:
    caller = principal()
    services().projects.remove_member(caller.org.id, project_id, member_id, caller.actor())
    return "", 204


@bp.get("/projects/<project_id>/resources")
@access(Access.PROJECT)
def list_resources(project_id: str) -> ResponseReturnValue:
    query = load_query(ResourceQuery())
    paging = Paging.of(query)
    caller = principal()
    require_project_member(caller, project_id)
    items, total = services().projects.resources(
        caller.org.id,
        project_id,
        created_by=query.get("created_by"),
        offset=paging.offset,
        limit=paging.limit,
    )
    return jsonify(paging.body(items, total, out.resource))


@bp.post("/projects/<project_id>/resources")
@access(Access.PROJECT)
def create_resource(project_id: str) -> ResponseReturnValue:
    """The creator is the calling member; an admin API key has no member, so it names one in ``created_by``."""
    body = load_body(ResourceBody())
    caller = principal()
    require_project_member(caller, project_id)
    creator = acting_member(caller, body.get("created_by"), field="created_by", doing="create resources")
    resource = services().projects.create_resource(
        caller.org.id, project_id, body["kind"], body["name"], creator, caller.actor()
    )
    return jsonify(out.resource(resource)), 201
