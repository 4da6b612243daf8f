"""Projects (rule 8): isolated resources, keys and memberships; more than the Default Project is opt-in."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.domain.errors import Conflict, FeatureDisabled, Forbidden, InvalidInput, MemberInactive
from gateway.services.base import ServiceBase, new_id
from gateway.storage.store import Store


def _name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise InvalidInput(f"A {what} needs a name of 1 to 200 characters.", field="name")
    return value


class ProjectService(ServiceBase):
    def list(self, org_id: str) -> list[m.Project]:
        with self.db.transaction() as tx:
            return list(tx.projects(org_id))

    def get(self, org_id: str, project_id: str) -> m.Project:
        with self.db.transaction() as tx:
            return self.found(tx.get(m.Project, org_id, project_id), "project")

    def create(self, org_id: str, name: str, actor: m.Actor) -> m.Project:
        name = _name(name, "project")
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            if not org.multi_project:
                raise FeatureDisabled(
                    "Only the Default Project is available. Multiple projects are an early-access feature "
                    "that must be enabled for the organization."
                )
            project = m.Project(new_id(), org.id, name, False, self.now())
            tx.add(project)
            tx.flush(f"A project named {name!r} already exists.")
            self.audit(tx, org.id, actor, "project.created", project, name=name)
            return project

    def _member_and_project(self, tx: Store, org_id: str, project_id: str, member_id: str):  # type: ignore[no-untyped-def]
        project = self.found(tx.get(m.Project, org_id, project_id), "project")
        member = self.found(tx.member_for_share(org_id, member_id), "member")
        return project, member

    def add_member(self, org_id: str, project_id: str, member_id: str, actor: m.Actor) -> m.ProjectMembership:
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            project, member = self._member_and_project(tx, org_id, project_id, member_id)
            if not project.is_default and not org.multi_project:
                raise FeatureDisabled("Multiple projects are not enabled for this organization.")
            if member.status is not m.MemberStatus.ACTIVE:
                raise MemberInactive("Only active members can be added to a project.")
            existing = tx.project_membership(org_id, project.id, member.id)
            if existing is not None:
                return existing
            membership = m.ProjectMembership(new_id(), org_id, project.id, member.id, self.now())
            tx.add(membership)
            self.audit(tx, org_id, actor, "project.member_added", member, project_id=project.id)
            return membership

    def remove_member(self, org_id: str, project_id: str, member_id: str, actor: m.Actor) -> None:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            project, member = self._member_and_project(tx, org_id, project_id, member_id)
            if project.is_default:
                raise Conflict("Every member belongs to the Default Project; remove the member instead.")
            membership = self.found(
                tx.project_membership(org_id, project.id, member.id), "project membership"
            )
            tx.delete(membership)
            revoked = tx.revoke_project_api_keys(org_id, project.id, member.id, self.now())
            self.audit(
                tx,
                org_id,
                actor,
                "project.member_removed",
                member,
                project_id=project.id,
                api_keys_revoked=revoked,
            )

    def members(
        self, org_id: str, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Member], int]:
        with self.db.transaction() as tx:
            self.found(tx.get(m.Project, org_id, project_id), "project")
            return tx.project_members(org_id, project_id, offset=offset, limit=limit)

    def is_member(self, org_id: str, project_id: str, member_id: str) -> bool:
        with self.db.transaction() as tx:
            return tx.project_membership(org_id, project_id, member_id) is not None

    # -- resources -----------------------------------------------------------------------------------------
    def create_resource(
        self, org_id: str, project_id: str, kind: m.ResourceKind, name: str, member_id: str, actor: m.Actor
    ) -> m.Resource:
        """A resource built by ``member_id``, who must be an active member of the project.

        The check depends on membership, so it runs under the organization lock like membership changes do:
        a removal either sees the new resource (kept, rule 5) or makes this creation fail, never neither."""
        name = _name(name, "resource")
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            project, member = self._member_and_project(tx, org_id, project_id, member_id)
            if (
                member.status is not m.MemberStatus.ACTIVE
                or tx.project_membership(org_id, project.id, member.id) is None
            ):
                raise Forbidden("Only active members of this project can create resources in it.")
            resource = m.Resource(new_id(), org_id, project.id, kind, name, member.id, self.now())
            tx.add(resource)
            self.audit(
                tx, org_id, actor, "resource.created", resource, project_id=project.id, kind=kind.value
            )
            return resource

    def resources(
        self, org_id: str, project_id: str, *, created_by: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[m.Resource], int]:
        with self.db.transaction() as tx:
            self.found(tx.get(m.Project, org_id, project_id), "project")
            return tx.resources(org_id, project_id, created_by=created_by, offset=offset, limit=limit)
