"""Bearer credentials: admin API keys, project API keys and SCIM tokens. Random, shown once, stored hashed,
scoped to one organization, revocable, last use recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.domain import model as m
from gateway.domain.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from gateway.services.base import ServiceBase, hash_token, new_id, same_hash
from gateway.storage.key_custody import creator_of
from gateway.storage.store import Store

ADMIN_KEY_PREFIX = "gwa"
PROJECT_KEY_PREFIX = "gwp"
SCIM_TOKEN_PREFIX = "scim"
LAST_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: m.ApiKey
    token: str


@dataclass(frozen=True)
class IssuedScimToken:
    scim_token: m.ScimToken
    token: str


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an API key authenticates: the organization and, for project keys, the member and project."""

    key: m.ApiKey
    org: m.Organization
    member: m.Member | None


def _label(name: str | None, default: str) -> str:
    value = (name or default).strip()
    if not value or len(value) > 200:
        raise InvalidInput("A key name must be 1 to 200 characters.", field="name")
    return value


class CredentialService(ServiceBase):
    def _touch_in(self, tx: Store, credential: m.ScimToken) -> None:
        """``_touch`` of a SCIM token read outside the session (``Store.scim_token_with_org``), so its use is
        written with an UPDATE of its own: a writing transaction sends it just before it commits (SQLite's write
        lock is not taken earlier for it), a reading one (a SCIM lookup) afterwards in a short transaction of its
        own, so that readers never take the write lock."""
        now = self.now()
        if credential.last_used_at is not None and now - credential.last_used_at < LAST_USE_RESOLUTION:
            return
        credential.last_used_at = now
        cls, obj_id = type(credential), credential.id
        if tx.write:
            tx.before_commit(f"last_use:{obj_id}", lambda: tx.record_last_use(cls, obj_id, now))
        else:
            tx.defer(lambda later: later.record_last_use(cls, obj_id, now))

    def _touch(self, credential: m.ApiKey | m.ScimToken) -> None:
        """Record last use at most once per ``LAST_USE_RESOLUTION``, so a busy IdP does not write on every call."""
        now = self.now()
        if credential.last_used_at is None or now - credential.last_used_at >= LAST_USE_RESOLUTION:
            credential.last_used_at = now

    # -- API keys ------------------------------------------------------------------------------------------
    def create_admin_key(self, org_id: str, actor: m.Actor, name: str | None = None) -> IssuedKey:
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            issued = self.tokens.issue(ADMIN_KEY_PREFIX)
            creator = actor.member_id
            if creator is None and actor.type is m.ActorType.API_KEY and actor.id:
                creator = creator_of(tx, org.id, actor.id)
            key = m.ApiKey(
                id=new_id(), org_id=org.id, kind=m.ApiKeyKind.ADMIN, prefix=issued.prefix,
                token_hash=issued.token_hash, name=_label(name, "admin key"), created_at=self.now(),
                created_by_member_id=creator,
            )  # fmt: skip
            tx.add(key)
            self.audit(
                tx, org.id, actor, "api_key.created", key,
                kind=key.kind.value, prefix=key.prefix, created_by_member_id=creator,
            )  # fmt: skip
            return IssuedKey(key, issued.token)

    def create_project_key(
        self, org_id: str, project_id: str, member_id: str, actor: m.Actor, name: str | None = None
    ) -> IssuedKey:
        """A key that acts as ``member_id`` inside one project; it dies with the member's access."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            project = self.found(tx.get(m.Project, org_id, project_id), "project")
            member = self.found(tx.get(m.Member, org_id, member_id), "member")
            if (
                member.status is not m.MemberStatus.ACTIVE
                or tx.project_membership(org_id, project.id, member.id) is None
            ):
                raise Forbidden("API keys can only be issued to active members of the project.")
            issued = self.tokens.issue(PROJECT_KEY_PREFIX)
            key = m.ApiKey(
                id=new_id(), org_id=org_id, kind=m.ApiKeyKind.PROJECT, prefix=issued.prefix,
                token_hash=issued.token_hash, name=_label(name, "project key"), created_at=self.now(),
                project_id=project.id, member_id=member.id,
            )  # fmt: skip
            tx.add(key)
            self.audit(
                tx, org_id, actor, "api_key.created", key,
                kind=key.kind.value, prefix=key.prefix, project_id=project.id, member_id=member.id,
            )  # fmt: skip
            return IssuedKey(key, issued.token)

    def api_keys(
        self, org_id: str, *, kind: m.ApiKeyKind | None = None, project_id: str | None = None
    ) -> list[m.ApiKey]:
        with self.db.transaction() as tx:
            return list(tx.api_keys(org_id, kind=kind, project_id=project_id))

    def get_api_key(self, org_id: str, key_id: str) -> m.ApiKey:
        with self.db.transaction() as tx:
            return self.found(tx.get(m.ApiKey, org_id, key_id), "API key")

    def revoke_api_key(self, org_id: str, key_id: str, actor: m.Actor) -> m.ApiKey:
        with self.db.transaction() as tx:
            key = self.found(tx.get(m.ApiKey, org_id, key_id), "API key")
            if key.revoked_at is not None:
                raise Conflict("This API key is already revoked.")
            key.revoked_at = self.now()
            self.audit(tx, org_id, actor, "api_key.revoked", key, kind=key.kind.value, prefix=key.prefix)
            return key

    def authenticate_api_key(self, token: str) -> ApiPrincipal:
        """The principal behind a bearer API key; revoked keys and keys of inactive members are refused."""
        with self.db.transaction() as tx:
            key = tx.api_key_by_hash(hash_token(token or ""))
            if key is None or not same_hash(token, key.token_hash) or key.revoked_at is not None:
                raise Unauthenticated("The API key is unknown or revoked.")
            org = self.found(tx.org(key.org_id), "organization")
            if key.created_by_member_id is not None:
                creator = tx.get(m.Member, key.org_id, key.created_by_member_id)
                if creator is None or creator.status is not m.MemberStatus.ACTIVE:
                    raise Unauthenticated("The API key's creator no longer has access.")
            member = None
            if key.member_id is not None:
                member = tx.get(m.Member, key.org_id, key.member_id)
                if member is None or member.status is not m.MemberStatus.ACTIVE:
                    raise Unauthenticated("The API key's member no longer has access.")
                if (
                    key.project_id is not None
                    and tx.project_membership(key.org_id, key.project_id, member.id) is None
                ):
                    raise Unauthenticated("The API key's member no longer belongs to its project.")
            self._touch(key)
            return ApiPrincipal(key, org, member)

    # -- SCIM tokens ---------------------------------------------------------------------------------------
    def create_scim_token(self, org_id: str, actor: m.Actor, name: str | None = None) -> IssuedScimToken:
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            issued = self.tokens.issue(SCIM_TOKEN_PREFIX)
            token = m.ScimToken(
                id=new_id(), org_id=org.id, prefix=issued.prefix, token_hash=issued.token_hash,
                name=_label(name, "SCIM token"), created_at=self.now(),
                suspended=org.mode is m.MembershipMode.INVITATION,
            )  # fmt: skip
            tx.add(token)
            self.audit(tx, org.id, actor, "scim_token.created", token, prefix=token.prefix)
            return IssuedScimToken(token, issued.token)

    def scim_tokens(self, org_id: str) -> list[m.ScimToken]:
        with self.db.transaction() as tx:
            return list(tx.scim_tokens(org_id))

    def revoke_scim_token(self, org_id: str, token_id: str, actor: m.Actor) -> m.ScimToken:
        with self.db.transaction() as tx:
            token = self.found(tx.get(m.ScimToken, org_id, token_id), "SCIM token")
            if token.revoked_at is not None:
                raise Conflict("This SCIM token is already revoked.")
            token.revoked_at = self.now()
            self.audit(tx, org_id, actor, "scim_token.revoked", token, prefix=token.prefix)
            return token

    def authenticate_scim_token(self, token: str) -> tuple[m.Organization, m.ScimToken]:
        """The organization a SCIM bearer token belongs to. Tokens suspended by a switch to invitation mode
        authenticate (so the SCIM adapter can say *why* it refuses) but ``is_usable`` is false."""
        with self.db.transaction(write=False) as tx:
            # In a SCIM write's transaction the organization's shared lock comes with the token (one query).
            found = tx.scim_token_with_org(hash_token(token or ""), lock_org=tx.write)
            record = found[0] if found is not None else None
            if record is None or not same_hash(token, record.token_hash) or record.revoked_at is not None:
                raise Unauthenticated("The SCIM token is unknown or revoked.")
            self._touch_in(tx, record)
            return found[1], record  # type: ignore[index]
