"""Projects: the list (Members see only their own), the multi-project flag, creating projects, one project's
members and the resources in it with who created them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page, checked, field_errors, text
from gateway.console.guard import viewer
from gateway.domain import model as m
from gateway.domain.errors import DomainError, NotFound
from gateway.domain.policy import normalize_email
from gateway.wiring import services


def _visible_projects() -> list[m.Project]:
    org_id, me = viewer().org.id, viewer()
    if me.is_admin:
        return services().projects.list(org_id)
    return services().members.get(org_id, me.member.id).projects


def _projects_page(
    errors: dict[str, str] | None = None, name: str = "", status: int = 200
) -> ResponseReturnValue:
    org_id = viewer().org.id
    projects = _visible_projects()
    counts = {p.id: services().projects.members(org_id, p.id, limit=1)[1] for p in projects}
    return render_template(
        "console/projects.html",
        title="Projects",
        section="console.projects",
        projects=projects,
        counts=counts,
        multi_project=services().orgs.get(org_id).org.multi_project,
        errors=errors,
        name=name,
    ), status


@bp.get("/projects")
def projects() -> ResponseReturnValue:
    return _projects_page()


@bp.post("/projects")
def create_project() -> ResponseReturnValue:
    name = text("name", 300)
    try:
        project = services().projects.create(viewer().org.id, name, viewer().actor())
    except DomainError as error:
        return _projects_page(field_errors(error, "name"), name, 400)
    flash(f"The project {project.name} is created.", "ok")
    return redirect(url_for("console.project", project_id=project.id), code=303)


@bp.post("/projects/multi-project")
def set_multi_project() -> ResponseReturnValue:
    enabled = checked("enabled")
    services().orgs.set_multi_project(viewer().org.id, enabled, viewer().actor())
    flash(f"Multiple projects are {'enabled' if enabled else 'disabled'} (early access).", "ok")
    return redirect(url_for("console.projects"), code=303)


@bp.get("/projects/<project_id>")
def project(project_id: str) -> ResponseReturnValue:
    return _project_page(project_id)


def _project_page(
    project_id: str, errors: dict[str, str] | None = None, email: str = "", status: int = 200
) -> ResponseReturnValue:
    org_id = viewer().org.id
    project = services().projects.get(org_id, project_id)
    if not viewer().is_admin and not services().projects.is_member(org_id, project.id, viewer().member.id):
        abort(403, description="You are not a member of this project.")
    members_page = Page.from_request()
    members, total = services().projects.members(
        org_id, project.id, offset=members_page.offset, limit=members_page.size
    )
    resources, resource_total = services().projects.resources(org_id, project.id, limit=100)
    return render_template(
        "console/project.html",
        title=project.name,
        section="console.projects",
        project=project,
        members=members,
        page=members_page.with_total(total),
        resources=resources,
        resource_total=resource_total,
        creators=_creators(org_id, resources),
        multi_project=services().orgs.get(org_id).org.multi_project,
        errors=errors,
        email=email,
    ), status


@bp.post("/projects/<project_id>/members")
def add_project_member(project_id: str) -> ResponseReturnValue:
    """Give an active member of the organization access to a project (multi-project organizations)."""
    org_id, email = viewer().org.id, text("email", 320)
    try:
        member = _member_by_email(org_id, email)
        services().projects.add_member(org_id, project_id, member.id, viewer().actor())
    except DomainError as error:
        return _project_page(project_id, field_errors(error, "email"), email, 400)
    flash(f"{member.email} now has access to the project.", "ok")
    return redirect(url_for("console.project", project_id=project_id), code=303)


@bp.post("/projects/<project_id>/members/<member_id>/remove")
def remove_project_member(project_id: str, member_id: str) -> ResponseReturnValue:
    services().projects.remove_member(viewer().org.id, project_id, member_id, viewer().actor())
    flash("The member no longer has access to the project; what they created stays in it.", "ok")
    return redirect(url_for("console.project", project_id=project_id), code=303)


def _member_by_email(org_id: str, email: str) -> m.Member:
    wanted = normalize_email(email)
    found, _ = services().members.list(org_id, query=wanted, limit=10)
    for member in found:
        if member.email == wanted:
            return member
    raise NotFound(f"{wanted} is not a member of this organization.", field="email")


def _creators(org_id: str, resources: list[m.Resource]) -> dict[str, m.Member]:
    """Who created each resource, also when that member has since been removed."""
    found: dict[str, m.Member] = {}
    for member_id in {r.created_by for r in resources}:
        try:
            found[member_id] = services().members.get(org_id, member_id).member
        except NotFound:
            continue
    return found
