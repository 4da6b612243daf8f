"""Refreshing a SAML connection's IdP settings from its metadata URL, by hand or on a schedule.

IdPs rotate their signing certificate by listing the new one next to the old one in their metadata for a
while, then dropping the old one. A refresh mirrors that: the certificates the metadata lists are the ones
trusted (a new one is adopted while the old one is still listed; one the IdP no longer lists is dropped), and
the SSO/SLO URLs follow. The metadata must still describe the connection's own IdP (same entity ID); anything
else is refused and the connection is left as it was. Every attempt's outcome is kept on the connection
(``config["metadata_refresh"]``), so the console shows when it last worked and why it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.domain import model as m
from gateway.domain.errors import DomainError, InvalidInput
from gateway.services.base import ServiceBase
from gateway.services.saml_connections import (
    IdpDescriptor,
    SamlConfig,
    SamlConnectionService,
    cert_fingerprint,
    parse_idp_metadata,
)
from gateway.storage.connection_store import ConnectionStore

SCHEDULER = m.Actor(type=m.ActorType.SYSTEM, label="scheduled SAML metadata refresh")


@dataclass(frozen=True)
class MetadataRefresh:
    connection_id: str
    ok: bool
    at: datetime
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    urls_changed: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.urls_changed)

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "ok": self.ok,
            "added": self.added,
            "removed": self.removed,
            "urls_changed": self.urls_changed,
            "error": self.error,
        }


def metadata_url(connection: m.SsoConnection) -> str | None:
    return (connection.config or {}).get("metadata_url") or None


class SamlMetadataRefresher(ServiceBase):
    def __init__(self, *deps: object, saml: SamlConnectionService) -> None:
        super().__init__(*deps)  # type: ignore[arg-type]
        self.saml = saml

    def set_url(self, org_id: str, connection_id: str, url: str | None, actor: m.Actor) -> m.SsoConnection:
        """Remember (or, with ``None``, forget) where the connection's metadata is published."""
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            connection: m.SsoConnection = self.found(
                tx.get(m.SsoConnection, org_id, connection_id), "connection"
            )
            self._saml_only(connection)
            config = dict(connection.config or {})
            if (config.get("metadata_url") or None) != (url or None):
                if url:
                    config["metadata_url"] = url
                else:
                    config.pop("metadata_url", None)
                connection.config = config
                self.audit(
                    tx, org_id, actor, "connection.updated", connection,
                    slug=connection.slug, changed={"metadata_url": url},
                )  # fmt: skip
            return connection

    @staticmethod
    def _saml_only(connection: m.SsoConnection) -> None:
        if connection.protocol is not m.ConnectionProtocol.SAML:
            raise InvalidInput("Only SAML connections have IdP metadata.", field="connection")

    def refresh(self, org_id: str, connection_id: str, actor: m.Actor) -> MetadataRefresh:
        """Fetch the metadata from the connection's URL and apply it; the outcome is recorded either way and
        a failure is raised (``InvalidInput`` on ``metadata_url``) with the connection unchanged."""
        with self.db.transaction() as tx:
            connection: m.SsoConnection = self.found(
                tx.get(m.SsoConnection, org_id, connection_id), "connection"
            )
        self._saml_only(connection)
        url = metadata_url(connection)
        if not url:
            raise InvalidInput(
                "This connection has no metadata URL to refresh from; set one first.", field="metadata_url"
            )
        config = SamlConfig.from_dict(connection.config)
        try:
            idp = parse_idp_metadata(self.saml.fetch_metadata(url, field="metadata_url"))
            if idp.entity_id != config.idp_entity_id:
                raise InvalidInput(
                    f"The metadata at {url} now describes the IdP {idp.entity_id!r}, not this connection's "
                    f"{config.idp_entity_id!r}; nothing was changed.",
                    field="metadata_url",
                )
        except DomainError as error:
            self._record(
                org_id, connection_id, MetadataRefresh(connection_id, False, self.now(), error=error.message)
            )
            raise InvalidInput(error.message, field="metadata_url") from None
        return self._apply(org_id, connection_id, idp, actor)

    def _apply(self, org_id: str, connection_id: str, idp: IdpDescriptor, actor: m.Actor) -> MetadataRefresh:
        with self.db.transaction() as tx:
            self.locked_org(tx, org_id)
            connection: m.SsoConnection = self.found(
                tx.get(m.SsoConnection, org_id, connection_id), "connection"
            )
            config = SamlConfig.from_dict(connection.config)
            added = [cert_fingerprint(c) for c in idp.certs if c not in config.idp_certs]
            removed = [cert_fingerprint(c) for c in config.idp_certs if c not in idp.certs]
            urls_changed = (config.idp_sso_url, config.idp_sso_binding, config.idp_slo_url) != (
                idp.sso_url, idp.sso_binding, idp.slo_url,
            )  # fmt: skip
            result = MetadataRefresh(connection_id, True, self.now(), added, removed, urls_changed)
            updated = {
                **connection.config,
                "idp_certs": list(idp.certs),
                "idp_sso_url": idp.sso_url,
                "idp_sso_binding": idp.sso_binding,
                "idp_slo_url": idp.slo_url,
                "idp_slo_binding": idp.slo_binding,
                "metadata_refresh": result.as_dict(),
            }
            connection.config = updated
            if result.changed:
                self.audit(
                    tx, org_id, actor, "connection.saml.metadata_refreshed", connection,
                    slug=connection.slug, certificates_added=added, certificates_removed=removed,
                    urls_changed=urls_changed,
                )  # fmt: skip
            return result

    def _record(self, org_id: str, connection_id: str, result: MetadataRefresh) -> None:
        with self.db.transaction() as tx:
            connection = tx.get(m.SsoConnection, org_id, connection_id)
            if connection is not None:
                connection.config = {**connection.config, "metadata_refresh": result.as_dict()}

    # -- the schedule ----------------------------------------------------------------------------------------
    def due(self, every: timedelta) -> list[m.SsoConnection]:
        """SAML connections with a metadata URL whose last refresh attempt is older than ``every``."""
        now = self.now()
        with self.db.transaction() as tx:
            due = []
            for connection in ConnectionStore(tx).all_of_protocol(m.ConnectionProtocol.SAML):
                if not metadata_url(connection):
                    continue
                last = ((connection.config or {}).get("metadata_refresh") or {}).get("at")
                if last is None or datetime.fromisoformat(last) + every <= now:
                    due.append(connection)
            return due

    def refresh_due(self, every: timedelta) -> list[MetadataRefresh]:
        """Refresh every connection that is due (each on its own; one IdP's failure is recorded on its
        connection and does not stop the others)."""
        results = []
        for connection in self.due(every):
            try:
                results.append(self.refresh(connection.org_id, connection.id, SCHEDULER))
            except DomainError as error:
                results.append(MetadataRefresh(connection.id, False, self.now(), error=error.message))
        return results
