"""Invitations (rule 3) and their acceptance by a signed-in, verified platform identity.

The accept link's token is returned only by create and resend; the database keeps its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import g, jsonify, make_response, request
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal, refuse_cross_origin
from gateway.api.blueprint import bp
from gateway.api.errors import ApiProblem, unauthenticated
from gateway.api.inputs import load_body, load_query
from gateway.api.paging import Paging
from gateway.api.schemas import AcceptBody, InvitationBody, InvitationQuery
from gateway.domain import model as m
from gateway.services.invitations import IssuedInvitation
from gateway.web.session_cookie import read_session_token, set_session_cookie
from gateway.wiring import services, settings


def _issued(issued: IssuedInvitation) -> dict[str, Any]:
    link = settings().url(f"/invitations/accept?token={quote(issued.token, safe='')}")
    return {
        "invitation": out.invitation(issued.invitation, services().clock()),
        "accept_url": link,
        "token": issued.token,
    }


@bp.post("/invitations")
@access(Access.ADMIN)
def create_invitation() -> ResponseReturnValue:
    body = load_body(InvitationBody())
    caller = principal()
    issued = services().invitations.create(caller.org.id, body["email"], body["role"], caller.actor())
    return jsonify(_issued(issued)), 201


@bp.get("/invitations")
@access(Access.ADMIN)
def list_invitations() -> ResponseReturnValue:
    """``?status=`` filters by the effective status (a pending invitation past its expiry is ``expired``)."""
    query = load_query(InvitationQuery())
    paging = Paging.of(query)
    items, total = services().invitations.list(
        principal().org.id,
        status=query.get("status"),
        offset=paging.offset,
        limit=paging.limit,
        after=paging.after(datetime, str),
    )
    now = services().clock()
    return jsonify(
        paging.body(items, total, lambda i: out.invitation(i, now), key=lambda x: (x.created_at, x.id))
    )


@bp.get("/invitations/<invitation_id>")
@access(Access.ADMIN)
def get_invitation(invitation_id: str) -> ResponseReturnValue:
    invitation = services().invitations.get(principal().org.id, invitation_id)
    return jsonify(out.invitation(invitation, services().clock()))


@bp.post("/invitations/<invitation_id>/revoke")
@access(Access.ADMIN)
def revoke_invitation(invitation_id: str) -> ResponseReturnValue:
    caller = principal()
    invitation = services().invitations.revoke(caller.org.id, invitation_id, caller.actor())
    return jsonify(out.invitation(invitation, services().clock()))


@bp.post("/invitations/<invitation_id>/resend")
@access(Access.ADMIN)
def resend_invitation(invitation_id: str) -> ResponseReturnValue:
    """A new link valid for 7 more days; the previous link stops working."""
    caller = principal()
    return jsonify(_issued(services().invitations.resend(caller.org.id, invitation_id, caller.actor())))


@bp.post("/invitations/accept")
@access(Access.PUBLIC)
def accept_invitation() -> ResponseReturnValue:
    """Accept with the verified email of the caller's platform sign-in; the browser's session is replaced by
    a fresh member session (rotation), so no token from before the acceptance survives it."""
    refuse_cross_origin()
    body = load_body(AcceptBody())
    session_token = read_session_token()
    identity = services().sessions.identity(session_token) if session_token else None
    if not identity or not identity.get("email"):
        raise unauthenticated("Sign in with the platform login provider before accepting an invitation.")
    if identity.get("email_verified") is not True:
        raise ApiProblem(
            403,
            "email_not_verified",
            "The login provider did not verify this email address, so it cannot accept an invitation.",
            title="Email not verified",
        )
    email = str(identity["email"])
    actor = m.Actor(m.ActorType.MEMBER, None, email, request.remote_addr, g.get("request_id"))
    member = services().invitations.accept(body["token"], email, actor)
    services().sessions.end(session_token or "")
    actor = m.Actor(m.ActorType.MEMBER, member.id, member.email, actor.ip, actor.request_id, member.id)
    _, token = services().sessions.start(member.org_id, member.id, actor, identity=identity)
    response = make_response(jsonify(out.member(member)), 200)
    response.headers["Cache-Control"] = "no-store"
    return set_session_cookie(response, token)
