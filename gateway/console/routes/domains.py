"""Email domains (rule 11): claim one, publish the TXT record shown, check it, remove it; for a verified domain,
the accounts other organizations hold in it (candidates for an account migration). The console never records
a domain as verified without DNS: only the platform operator's CLI can."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.console.blueprint import bp
from gateway.console.forms import field_errors, text
from gateway.console.guard import admin_page, viewer
from gateway.domain.errors import DomainError
from gateway.wiring import services


def _render(errors: dict[str, str] | None = None, domain: str = "", status: int = 200) -> ResponseReturnValue:
    svc, org = services(), viewer().org
    views = svc.domains.list(org.id)
    elsewhere = {
        v.domain.id: svc.domains.accounts_elsewhere(org.id, v.domain.id) for v in views if v.domain.verified
    }
    return render_template(
        "console/domains.html",
        title="Email domains",
        section="console.domains",
        views=views,
        elsewhere=elsewhere,
        errors=errors,
        domain=domain,
    ), status


@bp.get("/domains")
@admin_page
def domains() -> ResponseReturnValue:
    return _render()


@bp.post("/domains")
def add_domain() -> ResponseReturnValue:
    """Claim a domain: pending until its TXT record is published and checked."""
    domain = text("domain", 253)
    try:
        view = services().domains.claim(viewer().org.id, domain, viewer().actor())
    except DomainError as error:
        return _render(field_errors(error, "domain"), domain, 400)
    if view.domain.verified:
        flash(f"{view.domain.domain} is already verified for the organization.", "ok")
    else:
        flash(f"Claimed {view.domain.domain}. Publish the TXT record shown below, then check it.", "ok")
    return redirect(url_for("console.domains"), code=303)


@bp.post("/domains/<domain_id>/check")
def check_domain(domain_id: str) -> ResponseReturnValue:
    try:
        view = services().domains.check(viewer().org.id, domain_id, viewer().actor())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("console.domains"), code=303)
    flash(f"{view.domain.domain} is verified: it now belongs to the organization.", "ok")
    return redirect(url_for("console.domains"), code=303)


@bp.post("/domains/<domain_id>/remove")
def remove_domain(domain_id: str) -> ResponseReturnValue:
    try:
        claim = services().domains.remove(viewer().org.id, domain_id, viewer().actor())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("console.domains"), code=303)
    flash(f"Removed {claim.domain}.", "ok")
    return redirect(url_for("console.domains"), code=303)
