"""``/break-glass``: where a one-time sign-in link from ``gateway admin break-glass ORG EMAIL`` lands.

Opening the link shows a button; only pressing it (a POST) uses the link, so a mail scanner or a link preview
that fetches the URL does not burn it. The session it starts is marked ``break_glass`` in its data.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from gateway.domain import model as m
from gateway.domain.errors import DomainError
from gateway.web.signin import refusal_page, request_actor, start_member_session
from gateway.wiring import services

bp = Blueprint("break_glass", __name__)
PATH = "/break-glass"


@bp.get(PATH)
def break_glass_page() -> ResponseReturnValue:
    token = (request.args.get("token") or "")[:200]
    return render_template("break_glass.html", token=token), 200, {"Cache-Control": "no-store"}


@bp.post(PATH)
def break_glass_sign_in() -> ResponseReturnValue:
    token = (request.form.get("token") or "")[:200]
    actor = request_actor(m.ActorType.MEMBER, None, "break-glass sign-in link")
    try:
        member = services().break_glass.redeem(token, actor)
    except DomainError as error:
        return refusal_page(error)
    return start_member_session(member.org_id, member.id, actor, "/admin/", break_glass=True)
