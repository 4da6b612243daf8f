"""The organization's email domains (rule 11): claim one, publish the TXT record it shows, check it, remove
it; and, for a verified domain, the accounts other organizations hold in it (candidates for a migration).
Nothing here records a domain as verified without DNS: only the platform operator's CLI can."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from gateway.api import representations as out
from gateway.api.auth import Access, access, principal
from gateway.api.blueprint import bp
from gateway.api.inputs import load_body
from gateway.api.schemas import DomainBody
from gateway.wiring import services


@bp.get("/domains")
@access(Access.ADMIN)
def list_domains() -> ResponseReturnValue:
    return jsonify(items=[out.domain_claim(v) for v in services().domains.list(principal().org.id)])


@bp.post("/domains")
@access(Access.ADMIN)
def claim_domain() -> ResponseReturnValue:
    """A pending claim; the answer says which TXT record proves it (``dns.name`` / ``dns.value``)."""
    body = load_body(DomainBody())
    caller = principal()
    view = services().domains.claim(caller.org.id, body["domain"], caller.actor())
    return jsonify(out.domain_claim(view)), 201


@bp.get("/domains/<domain_id>")
@access(Access.ADMIN)
def get_domain(domain_id: str) -> ResponseReturnValue:
    return jsonify(out.domain_claim(services().domains.get(principal().org.id, domain_id)))


@bp.post("/domains/<domain_id>/check")
@access(Access.ADMIN)
def check_domain(domain_id: str) -> ResponseReturnValue:
    """Look the TXT record up now: 200 with the verified claim, or a 409 ``domain-not-proven`` problem."""
    caller = principal()
    return jsonify(out.domain_claim(services().domains.check(caller.org.id, domain_id, caller.actor())))


@bp.delete("/domains/<domain_id>")
@access(Access.ADMIN)
def remove_domain(domain_id: str) -> ResponseReturnValue:
    caller = principal()
    services().domains.remove(caller.org.id, domain_id, caller.actor())
    return "", 204


@bp.get("/domains/<domain_id>/accounts-elsewhere")
@access(Access.ADMIN)
def accounts_elsewhere(domain_id: str) -> ResponseReturnValue:
    members = services().domains.accounts_elsewhere(principal().org.id, domain_id)
    return jsonify(items=[out.account_elsewhere(x) for x in members], total=len(members))
