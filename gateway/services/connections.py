"""SSO connections as records the organization core needs: mode switching checks and suspends them.
The SAML and OIDC adapters own the protocol configuration stored in ``config``."""

from __future__ import annotations

from typing import Any

from gateway.domain import model as m
from gateway.domain.cutover import check_connection_removal
from gateway.domain.errors import InvalidInput
from gateway.domain.policy import slugify
from gateway.services.base import ServiceBase, new_id


class ConnectionService(ServiceBase):
    def add(
        self,
        org_id: str,
        protocol: m.ConnectionProtocol,
        name: str,
        actor: m.Actor,
        *,
        preset: str = "generic",
        config: dict[str, Any] | None = None,
        slug: str | None = None,
    ) -> m.SsoConnection:
        if not (name or "").strip():
            raise InvalidInput("A connection needs a name.", field="name")
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            connection = m.SsoConnection(
                id=new_id(), org_id=org.id, slug=slugify(slug or f"{org.slug}-{name}"), protocol=protocol,
                name=name.strip(), created_at=self.now(), preset=preset, config=dict(config or {}),
                suspended=org.mode is m.MembershipMode.INVITATION,
            )  # fmt: skip
            tx.add(connection)
            tx.flush(f"A connection with the slug {connection.slug!r} already exists.")
            self.audit(
                tx,
                org.id,
                actor,
                "connection.created",
                connection,
                protocol=protocol.value,
                slug=connection.slug,
            )
            return connection

    def set_enabled(
        self, org_id: str, connection_id: str, enabled: bool, actor: m.Actor, *, override: bool = False
    ) -> m.SsoConnection:
        """Enable or disable a connection; disabling the last usable one of an ``sso``-mode organization is
        refused with ``LastConnection`` unless ``override`` (see ``gateway.domain.cutover``)."""
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            connection = self.found(tx.get(m.SsoConnection, org_id, connection_id), "connection")
            if not enabled:
                check_connection_removal(
                    org, tx.connections(org_id), connection.id, override=override, doing="disable"
                )
            if connection.enabled != enabled:
                connection.enabled = enabled
                action = "connection.enabled" if enabled else "connection.disabled"
                self.audit(tx, org_id, actor, action, connection, slug=connection.slug)
            return connection

    def list(self, org_id: str) -> list[m.SsoConnection]:
        with self.db.transaction() as tx:
            return list(tx.connections(org_id))

    def by_slug(self, slug: str) -> m.SsoConnection | None:
        with self.db.transaction() as tx:
            return tx.connection_by_slug(slug)
