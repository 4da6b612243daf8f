"""The caller's organization and its membership mode (rule 2: preview, then apply)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body
from gateway.api.schemas import ModeBody, OrgPatch
from gateway.wiring import services


@bp.get("/org")
@access(Access.READ)
def get_org() -> ResponseReturnValue:
    return jsonify(out.org(services().orgs.get(principal().org.id)))


@bp.patch("/org")
@access(Access.ADMIN)
def patch_org() -> ResponseReturnValue:
    body = load_body(OrgPatch())
    caller = principal()
    services().orgs.set_multi_project(caller.org.id, body["multi_project"], caller.actor())
    return jsonify(out.org(services().orgs.get(caller.org.id)))


@bp.get("/mode")
@access(Access.ADMIN)
def get_mode() -> ResponseReturnValue:
    org = services().orgs.get(principal().org.id).org
    return jsonify(org_id=org.id, mode=org.mode.value)


@bp.post("/mode/preview")
@access(Access.ADMIN)
def preview_mode() -> ResponseReturnValue:
    """A dry run: 200 whether the switch would be allowed or refused (``allowed`` says which); writes nothing."""
    body = load_body(ModeBody())
    plan = services().mode.preview(principal().org.id, body["mode"])
    return jsonify(out.plan(plan, dry_run=True, applied=False))


@bp.post("/mode")
@access(Access.ADMIN)
def apply_mode() -> ResponseReturnValue:
    """Apply the switch; a refusal is a 409 ``mode-switch-refused`` problem carrying the reason."""
    body = load_body(ModeBody())
    caller = principal()
    plan = services().mode.apply(caller.org.id, body["mode"], caller.actor())
    return jsonify(out.plan(plan, dry_run=False, applied=plan.from_mode is not plan.to_mode))
