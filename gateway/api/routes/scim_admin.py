"""The SCIM request log (every SCIM request, refused ones included) and IdP group -> role mappings.

``GET /scim/requests`` filters by ``outcome`` (``ok`` or ``refused``), ``status``, ``method``, ``scim_type``,
``path`` (a prefix, e.g. ``/scim/v2/Users``) and ``offers_migration``, newest first. A push refused because the
address's account belongs to another organization carries that ``email`` and ``request_migration``, the
endpoint that requests the account's migration (as the ``account-in-other-organization`` problem does). Group mappings: ``GET /scim/group-roles``,
``PUT /scim/group-roles`` with ``{"group_name", "role"}``, ``DELETE /scim/group-roles/<group_name>``.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import PREFIX, bp
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.domain import model as m
from gateway.services.scim_log import OUTCOMES, ScimLogFilter, ScimRequestEntry
from gateway.wiring import services


class ScimLogQuery(PageQuery):
    outcome = fields.Str(validate=validate.OneOf(OUTCOMES))
    status = fields.Int(validate=validate.Range(min=100, max=599))
    method = fields.Str(validate=validate.OneOf(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    scim_type = fields.Str(validate=validate.Length(min=1, max=40))
    path = fields.Str(validate=validate.Length(min=1, max=500))
    offers_migration = fields.Bool()


class GroupRoleBody(Schema):
    group_name = fields.Str(required=True, validate=validate.Length(min=1, max=256))
    role = fields.Str(required=True, validate=validate.OneOf(["admin", "member"]))


def _entry(value: ScimRequestEntry) -> dict[str, Any]:
    return {
        "id": value.id,
        "at": value.at.isoformat() if value.at else None,
        "method": value.method,
        "path": value.path,
        "status": value.status,
        "outcome": "refused" if value.refused else "ok",
        "scim_type": value.scim_type,
        "detail": value.detail,
        "token_prefix": value.token_prefix,
        "request_id": value.request_id,
        "email": value.migration_email if value.offers_migration else None,
        "request_migration": f"POST {PREFIX}/account-migrations" if value.offers_migration else None,
    }


@bp.get("/scim/requests")
@access(Access.ADMIN)
def list_scim_requests() -> ResponseReturnValue:
    query = load_query(ScimLogQuery())
    paging = Paging.of(query)
    where = ScimLogFilter(
        outcome=query.get("outcome"), status=query.get("status"), method=query.get("method"),
        scim_type=query.get("scim_type"), path=query.get("path"),
        offers_migration=bool(query.get("offers_migration")),
    )  # fmt: skip
    items, total = services().scim_log.list(
        principal().org.id, where, offset=paging.offset, limit=paging.limit
    )
    return jsonify(paging.body(items, total, _entry))


def _mappings(org_id: str) -> list[dict[str, Any]]:
    return [
        {"group_name": mp.group_name, "role": mp.role.value, "created_at": mp.created_at.isoformat()}
        for mp in services().provisioning.role_mappings(org_id)
    ]


@bp.get("/scim/group-roles")
@access(Access.ADMIN)
def list_group_roles() -> ResponseReturnValue:
    return jsonify({"items": _mappings(principal().org.id)})


@bp.put("/scim/group-roles")
@access(Access.ADMIN)
def set_group_role() -> ResponseReturnValue:
    """Members of the IdP group get the role now and at every SCIM update (never the last Admin demoted)."""
    body = load_body(GroupRoleBody())
    caller = principal()
    services().provisioning.map_group_to_role(
        caller.org.id, body["group_name"], m.Role(body["role"]), caller.actor()
    )
    return jsonify({"items": _mappings(caller.org.id)})


@bp.delete("/scim/group-roles/<path:group_name>")
@access(Access.ADMIN)
def remove_group_role(group_name: str) -> ResponseReturnValue:
    caller = principal()
    services().provisioning.map_group_to_role(caller.org.id, group_name, None, caller.actor())
    return jsonify({"items": _mappings(caller.org.id)})
