"""Members of the caller's organization (rules 5-7) and the block list that stops SSO re-creation (rule 6)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import PageQuery, Paging
from gateway.api.schemas import EmailBody, MemberPatch, MemberQuery, OverrideQuery, RemovalQuery
from gateway.wiring import services


@bp.get("/members")
@access(Access.READ)
def list_members() -> ResponseReturnValue:
    """``?q=`` searches email and name; ``?status=`` (default: everyone not removed); ``?role=``. By email;
    ``?cursor=`` pages by keyset (see ``gateway.api.paging``)."""
    query = load_query(MemberQuery())
    paging = Paging.of(query)
    items, total = services().members.list(
        principal().org.id,
        query=query.get("q"),
        status=query.get("status"),
        role=query.get("role"),
        offset=paging.offset,
        limit=paging.limit,
        after=paging.after(str),
    )
    return jsonify(paging.body(items, total, out.member, key=lambda x: (x.email,)))


@bp.get("/members/<member_id>")
@access(Access.READ)
def get_member(member_id: str) -> ResponseReturnValue:
    return jsonify(out.member_detail(services().members.get(principal().org.id, member_id)))


@bp.patch("/members/<member_id>")
@access(Access.ADMIN)
def patch_member(member_id: str) -> ResponseReturnValue:
    body = load_body(MemberPatch())
    caller = principal()
    member = services().members.change_role(
        caller.org.id, member_id, body["role"], caller.actor(), override=body["override_last_admin"]
    )
    return jsonify(out.member(member))


@bp.delete("/members/<member_id>")
@access(Access.ADMIN)
def remove_member(member_id: str) -> ResponseReturnValue:
    """Revoke project access, sessions and API keys at once; resources stay (rule 5). ``?block=true`` also
    blocks the email so SSO sign-in does not re-create the member (rule 6)."""
    query = load_query(RemovalQuery())
    caller = principal()
    result = services().members.remove(
        caller.org.id,
        member_id,
        caller.actor(),
        block=query["block"],
        override=query["override_last_admin"],
    )
    return jsonify(out.removal(result, services().orgs.get(caller.org.id).org.mode))


@bp.post("/members/<member_id>/suspend")
@access(Access.ADMIN)
def suspend_member(member_id: str) -> ResponseReturnValue:
    query = load_query(OverrideQuery())
    caller = principal()
    result = services().members.suspend(
        caller.org.id, member_id, caller.actor(), override=query["override_last_admin"]
    )
    return jsonify(
        member=out.member(result.member),
        revoked={"sessions": result.sessions_ended, "api_keys": result.api_keys_revoked},
        resources_kept=result.resources_kept,
    )


@bp.post("/members/<member_id>/restore")
@access(Access.ADMIN)
def restore_member(member_id: str) -> ResponseReturnValue:
    caller = principal()
    return jsonify(out.member(services().members.restore(caller.org.id, member_id, caller.actor())))


@bp.get("/blocked-emails")
@access(Access.ADMIN)
def list_blocked_emails() -> ResponseReturnValue:
    paging = Paging.of(load_query(PageQuery()))
    items, total = paging.window(services().members.blocked_emails(principal().org.id))
    return jsonify(paging.body(items, total, out.blocked_email))


@bp.post("/blocked-emails")
@access(Access.ADMIN)
def block_email() -> ResponseReturnValue:
    body = load_body(EmailBody())
    caller = principal()
    record = services().members.block_email(caller.org.id, body["email"], caller.actor())
    return jsonify(out.blocked_email(record)), 201


@bp.delete("/blocked-emails/<email>")
@access(Access.ADMIN)
def unblock_email(email: str) -> ResponseReturnValue:
    caller = principal()
    services().members.unblock_email(caller.org.id, email, caller.actor())
    return "", 204
