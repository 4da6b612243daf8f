"""Living with a connection: editing it, previewing and applying its deletion.

Editing covers what an IT admin changes over the years without recreating the connection: its name, the
email domains it serves (each one claimed as a verified domain of the organization, as at setup), the IdP
groups whose members are Admins, the attribute (SAML) or claim (OIDC) names, and whether SAML IdP-initiated
sign-in is allowed. Deleting keeps every member's account (members belong to the organization, not to a
connection); it ends the sessions the connection started and drops its sign-ins in flight. In ``sso`` mode the
last enabled connection is protected by :mod:`gateway.domain.cutover`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.domain import model as m
from gateway.domain.cutover import check_connection_removal, leaves_no_connection
from gateway.domain.errors import InvalidInput
from gateway.services.base import ServiceBase
from gateway.services.domains import DomainService
from gateway.storage.saml_store import SamlStore
from gateway.storage.store import Store

SAML_ATTRIBUTE_KEYS = ("email", "first_name", "last_name", "groups")
OIDC_CLAIM_KEYS = ("email", "given_name", "family_name", "groups")
MAX_DOMAINS = 50
MAX_GROUPS = 100


@dataclass(frozen=True)
class ConnectionEdit:
    """The fields to change; ``None`` leaves a field as it is."""

    name: str | None = None
    domains: list[str] | None = None
    admin_groups: list[str] | None = None
    attributes: dict[str, str] | None = None
    allow_idp_initiated: bool | None = None


@dataclass(frozen=True)
class DeletionPreview:
    """What deleting a connection does, shown before the Admin confirms."""

    connection: m.SsoConnection
    sessions_ended: int
    members_kept: int
    last_usable: bool
    effects: list[str] = field(default_factory=list)


def connection_domains(connection: m.SsoConnection) -> list[str]:
    """The email domains a connection serves (empty: every verified domain of its organization)."""
    return [str(d) for d in (connection.config or {}).get("domains") or []]


def serving(connections: list[m.SsoConnection], domain: str) -> list[m.SsoConnection]:
    """The connections that serve ``domain``: those naming it, else those naming no domain (which serve every
    verified domain of the organization)."""
    named = [c for c in connections if domain in connection_domains(c)]
    return named or [c for c in connections if not connection_domains(c)]


def started_by(session: m.WebSession, connection: m.SsoConnection) -> bool:
    """Whether ``session`` was started by a sign-in through ``connection``."""
    data = session.data or {}
    saml, oidc = data.get("saml") or {}, data.get("oidc") or {}
    if connection.protocol is m.ConnectionProtocol.SAML:
        return saml.get("connection") == connection.id
    if oidc.get("connection"):
        return oidc.get("connection") == connection.id
    return bool(oidc) and oidc.get("iss") == (connection.config or {}).get("issuer")


def _clean_domain(value: str) -> str:
    domain = (value or "").strip().lower().rstrip(".")
    if "." not in domain or "@" in domain or " " in domain or len(domain) > 253:
        raise InvalidInput(f"{value!r} is not a domain name.", field="domains")
    return domain


def _clean_groups(groups: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(g.strip() for g in groups if g and g.strip()))
    if len(cleaned) > MAX_GROUPS or any(len(g) > 200 for g in cleaned):
        raise InvalidInput(
            f"At most {MAX_GROUPS} admin groups of up to 200 characters.", field="admin_groups"
        )
    return cleaned


class ConnectionLifecycleService(ServiceBase):
    # -- editing -------------------------------------------------------------------------------------------
    def edit(self, org_id: str, connection_id: str, edit: ConnectionEdit, actor: m.Actor) -> m.SsoConnection:
        """Apply ``edit`` in one transaction, audited as ``connection.updated`` with the fields that changed
        (nothing changed: nothing audited)."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            connection: m.SsoConnection = self.found(
                tx.get(m.SsoConnection, org_id, connection_id), "connection"
            )
            config = dict(connection.config or {})
            changed: dict[str, Any] = {}
            if edit.name is not None:
                name = edit.name.strip()
                if not name or len(name) > 200:
                    raise InvalidInput("A connection needs a name of up to 200 characters.", field="name")
                if name != connection.name:
                    connection.name = name
                    changed["name"] = name
            if edit.domains is not None:
                domains = list(dict.fromkeys(_clean_domain(d) for d in edit.domains if d.strip()))
                if len(domains) > MAX_DOMAINS:
                    raise InvalidInput(f"At most {MAX_DOMAINS} domains per connection.", field="domains")
                for domain in domains:
                    self._claim(tx, org, domain, actor)
                if domains != connection_domains(connection):
                    config["domains"] = domains
                    changed["domains"] = domains
            if edit.admin_groups is not None:
                groups = _clean_groups(edit.admin_groups)
                current = list(config.get("admin_groups") or [])
                if sorted(groups) != sorted(current):
                    config["admin_groups"] = groups
                    changed["admin_groups"] = groups
            if edit.attributes is not None:
                changed.update(self._attributes(connection, config, edit.attributes))
            if edit.allow_idp_initiated is not None:
                if connection.protocol is not m.ConnectionProtocol.SAML:
                    raise InvalidInput(
                        "IdP-initiated sign-in is a SAML setting; OIDC sign-ins always start at the gateway.",
                        field="allow_idp_initiated",
                    )
                if bool(config.get("allow_idp_initiated")) != edit.allow_idp_initiated:
                    config["allow_idp_initiated"] = edit.allow_idp_initiated
                    changed["allow_idp_initiated"] = edit.allow_idp_initiated
            if changed:
                connection.config = config
                self.audit(
                    tx, org.id, actor, "connection.updated", connection, slug=connection.slug, changed=changed
                )
            return connection

    @staticmethod
    def _attributes(
        connection: m.SsoConnection, config: dict[str, Any], wanted: dict[str, str]
    ) -> dict[str, Any]:
        saml = connection.protocol is m.ConnectionProtocol.SAML
        key, allowed = ("attributes", SAML_ATTRIBUTE_KEYS) if saml else ("claims", OIDC_CLAIM_KEYS)
        unknown = sorted(set(wanted) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"Unknown {'attribute' if saml else 'claim'} mapping {', '.join(unknown)}; "
                f"the mapped fields are {', '.join(allowed)}.",
                field="attributes",
            )
        if any(len(str(v)) > 500 for v in wanted.values()):
            raise InvalidInput("An attribute name is at most 500 characters.", field="attributes")
        if "email" in wanted and not str(wanted["email"]).strip():
            raise InvalidInput("The email mapping cannot be empty.", field="attributes")
        current = dict(config.get(key) or {})
        updated = {**current, **{k: str(v).strip() for k, v in wanted.items()}}
        if updated == current:
            return {}
        config[key] = updated
        return {key: updated}

    def _claim(self, tx: Store, org: m.Organization, domain: str, actor: m.Actor) -> None:
        """A domain the connection is to serve becomes the organization's claim (rule 11): pending until its
        DNS record proves it, unless the operator's CLI records it verified."""
        DomainService(self.db, self.clock, self.tokens, self.listeners).add_in(tx, org, [domain], actor)

    # -- deleting ------------------------------------------------------------------------------------------
    def _preview(self, tx: Store, org: m.Organization, connection: m.SsoConnection) -> DeletionPreview:
        sessions = [s for s in SamlStore(tx).live_sessions(org.id, self.now()) if started_by(s, connection)]
        last = leaves_no_connection(org, tx.connections(org.id), connection.id)
        members = tx.count_members(org.id)
        effects = [
            f"The connection {connection.name} ({connection.slug}) and its {connection.protocol.value.upper()} "
            "settings are deleted; its sign-in URLs stop working.",
            f"{len(sessions)} session(s) started through it end now.",
            f"All {members} member(s) keep their accounts, projects and resources.",
        ]
        if last:
            effects.append(
                "It is the last enabled connection and the organization is in SSO mode: nobody can sign in "
                "afterwards unless you confirm the override."
            )
        return DeletionPreview(connection, len(sessions), members, last, effects)

    def delete_preview(self, org_id: str, connection_id: str) -> DeletionPreview:
        with self.db.transaction() as tx:
            org = self.found(tx.org(org_id), "organization")
            connection = self.found(tx.get(m.SsoConnection, org_id, connection_id), "connection")
            return self._preview(tx, org, connection)

    def delete(
        self, org_id: str, connection_id: str, actor: m.Actor, *, override: bool = False
    ) -> DeletionPreview:
        """Delete the connection (sessions it started end; members stay), audited as ``connection.deleted``
        with the connection as it was; ``LastConnection`` for the last usable one in SSO mode."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            connection = self.found(tx.get(m.SsoConnection, org_id, connection_id), "connection")
            check_connection_removal(
                org, tx.connections(org.id), connection.id, override=override, doing="delete"
            )
            preview = self._preview(tx, org, connection)
            now = self.now()
            for session in SamlStore(tx).live_sessions(org.id, now):
                if started_by(session, connection):
                    session.revoked_at = now
            self.audit(
                tx, org.id, actor, "connection.deleted", connection,
                slug=connection.slug, protocol=connection.protocol.value, name=connection.name,
                sessions_ended=preview.sessions_ended, override=override and preview.last_usable,
            )  # fmt: skip
            tx.delete(connection)
            tx.flush()
            return preview
