"""The membership mode: the current mode, the dry-run preview of a switch, and the confirmed switch."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import text
from gateway.console.guard import viewer
from gateway.domain import model as m
from gateway.domain.errors import DomainError
from gateway.domain.policy import ModeSwitchPlan, mode_from_value
from gateway.wiring import services


@bp.get("/mode")
def mode() -> ResponseReturnValue:
    current = viewer().org.mode
    other = m.MembershipMode.INVITATION if current is m.MembershipMode.SSO else m.MembershipMode.SSO
    return render_template("console/mode.html", title="Membership mode", section="console.mode", other=other)


def _preview(plan: ModeSwitchPlan, refusal: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "console/mode_preview.html",
        title=f"Switch to {plan.to_mode.value} mode?",
        section="console.mode",
        plan=plan,
        refusal=refusal or plan.refusal,
    ), status


@bp.get("/mode/preview")
def mode_preview() -> ResponseReturnValue:
    """The dry run: what a switch would do, or why it would be refused. Nothing changes."""
    target = mode_from_value(request.args.get("to") or "")
    return _preview(services().mode.preview(viewer().org.id, target))


@bp.post("/mode")
def switch_mode() -> ResponseReturnValue:
    target = mode_from_value(text("to"))
    try:
        plan = services().mode.apply(viewer().org.id, target, viewer().actor())
    except DomainError as error:  # ModeSwitchRefused, or the organization changed meanwhile
        return _preview(services().mode.preview(viewer().org.id, target), error.message, 409)
    flash(f"The organization is now in {target.value} mode. " + " ".join(plan.effects[1:]), "ok")
    return redirect(url_for("console.mode"), code=303)
