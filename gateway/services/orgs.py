"""Organizations: creation with their Default Project, their domains (see ``gateway.services.domains``), the
multi-project flag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain import model as m
from gateway.domain.errors import Conflict, InvalidInput, NotFound
from gateway.domain.policy import slugify
from gateway.services.base import ServiceBase, new_id
from gateway.services.domains import DomainService

DEFAULT_PROJECT_NAME = "Default Project"


@dataclass(frozen=True)
class OrgView:
    org: m.Organization
    default_project: m.Project
    domains: list[m.Domain]
    member_count: int


class OrgService(ServiceBase):
    domains: DomainService | None = None

    def _domains(self) -> DomainService:
        return self.domains or DomainService(self.db, self.clock, self.tokens, self.listeners)

    def create(
        self,
        name: str,
        mode: m.MembershipMode,
        actor: m.Actor,
        *,
        slug: str | None = None,
        domains: Sequence[str] = (),
    ) -> OrgView:
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise InvalidInput("An organization needs a name of 1 to 200 characters.", field="name")
        now = self.now()
        with self.db.transaction() as tx:
            org = m.Organization(
                id=new_id(), slug=slugify(slug or name), name=name, mode=mode, created_at=now, updated_at=now
            )
            if tx.org_by_slug(org.slug):
                raise Conflict(f"An organization with the slug {org.slug!r} already exists.", field="slug")
            tx.add(org)
            project = m.Project(
                id=new_id(), org_id=org.id, name=DEFAULT_PROJECT_NAME, is_default=True, created_at=now
            )
            tx.add(project)
            tx.flush(f"An organization with the slug {org.slug!r} already exists.")
            # The operator's domains (the CLI's) are recorded verified; anyone else's become pending claims.
            self._domains().add_in(tx, org, domains, actor)
            self.audit(tx, org.id, actor, "org.created", org, name=name, mode=mode.value)
            return OrgView(org, project, list(tx.domains(org.id)), 0)

    def add_domain(self, org_id: str, domain: str, actor: m.Actor, *, verified: bool = True) -> m.Domain:
        """Record a domain for the organization: ``verified`` only for the platform operator (the CLI, and
        tests acting as it); otherwise a pending claim that DNS must prove."""
        domains = self._domains()
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            if verified:
                return domains.record_verified_in(tx, org, domain, actor)
            return domains.claim_in(tx, org, domain, actor)

    def get(self, org_id: str) -> OrgView:
        with self.db.transaction() as tx:
            org = tx.org(org_id)
            if org is None:
                raise NotFound("No such organization.")
            return OrgView(
                org, tx.default_project(org.id), list(tx.domains(org.id)), tx.count_members(org.id)
            )

    def resolve(self, slug_or_id: str) -> m.Organization:
        """The organization named by a CLI argument: its slug or its id."""
        with self.db.transaction() as tx:
            org = tx.org_by_slug(slug_or_id.strip().lower()) or tx.org(slug_or_id)
            if org is None:
                raise NotFound(f"No organization with slug or id {slug_or_id!r}.")
            return org

    def list(self) -> list[OrgView]:
        with self.db.transaction() as tx:
            return [
                OrgView(o, tx.default_project(o.id), list(tx.domains(o.id)), tx.count_members(o.id))
                for o in tx.orgs()
            ]

    def set_multi_project(self, org_id: str, enabled: bool, actor: m.Actor) -> m.Organization:
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id, exclusive=True)
            if org.multi_project != enabled:
                org.multi_project = enabled
                org.updated_at = self.now()
                self.audit(tx, org.id, actor, "org.multi_project_changed", org, enabled=enabled)
            return org

    def org_for_email_domain(self, email_domain: str) -> m.Organization | None:
        """Home-realm discovery: the organization that verified this email domain."""
        with self.db.transaction() as tx:
            record = tx.domain(email_domain.strip().lower())
            if record is None or not record.verified:
                return None
            return tx.org(record.org_id)
