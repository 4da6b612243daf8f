"""The SCIM page's request log (every SCIM request, refused ones included, filterable; a push refused because
the account belongs to another organization offers to request its migration) and its IdP group -> role
mappings. The page itself is rendered by ``credentials``; this module supplies the extra context and the
mapping forms."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import Page, text
from gateway.console.guard import viewer
from gateway.domain import model as m
from gateway.domain.errors import InvalidInput
from gateway.services.scim_log import OUTCOMES, ScimLogFilter
from gateway.wiring import services

LOG_PAGE = 50
MIGRATION_OUTCOME = "migration"
"""The outcome filter for pushes refused because the account belongs to another organization: each offers
"Request migration", which opens the account migration's preview with the address filled in."""


def _filter() -> tuple[ScimLogFilter, dict[str, str]]:
    args = {
        k: (request.args.get(k) or "").strip()[:200] for k in ("outcome", "status", "method", "scim_type")
    }
    status = int(args["status"]) if args["status"].isdigit() else None
    where = ScimLogFilter(
        outcome=args["outcome"] if args["outcome"] in OUTCOMES else None,
        offers_migration=args["outcome"] == MIGRATION_OUTCOME,
        status=status,
        method=args["method"].upper() or None,
        scim_type=args["scim_type"] or None,
    )
    return where, args


def scim_admin_context(org_id: str) -> dict[str, Any]:
    where, args = _filter()
    page = Page.from_request(size=LOG_PAGE)
    entries, total = services().scim_log.list(org_id, where, offset=page.offset, limit=page.size)
    return {
        "log": entries,
        "log_page": page.with_total(total),
        "log_filter": args,
        "mappings": services().provisioning.role_mappings(org_id),
    }


@bp.post("/scim/group-roles")
def set_group_role() -> ResponseReturnValue:
    role = text("role", 20)
    if role not in ("admin", "member"):
        raise InvalidInput("Choose the Admin or Member role.", field="role")
    name = text("group_name", 300)
    services().provisioning.map_group_to_role(viewer().org.id, name, m.Role(role), viewer().actor())
    flash(f"Members of the IdP group {name} get the {role} role.", "ok")
    return redirect(url_for("console.scim") + "#group-roles", code=303)


@bp.post("/scim/group-roles/remove")
def remove_group_role() -> ResponseReturnValue:
    name = text("group_name", 300)
    services().provisioning.map_group_to_role(viewer().org.id, name, None, viewer().actor())
    flash(f"The IdP group {name} no longer maps to a role.", "ok")
    return redirect(url_for("console.scim") + "#group-roles", code=303)
