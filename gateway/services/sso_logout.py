"""Ending the gateway's sessions when the identity provider says a person signed out (OIDC back-channel
logout): the sessions a connection started for that subject, or for that provider session (``sid``)."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.services.base import ServiceBase
from gateway.storage.saml_store import SamlStore


class SsoLogoutService(ServiceBase):
    def end_oidc_sessions(
        self, connection: m.SsoConnection, *, sub: str | None, sid: str | None, actor: m.Actor
    ) -> int:
        """Revoke the live sessions ``connection`` started whose provider session is ``sid`` (when given) or
        whose subject is ``sub``; audited as ``session.backchannel_logout``. Returns how many ended."""
        now = self.now()
        ended = 0
        with self.db.transaction() as tx:
            for session in SamlStore(tx).live_sessions(connection.org_id, now):
                oidc = (session.data or {}).get("oidc") or {}
                if oidc.get("connection") != connection.id:
                    continue
                if sid is not None and oidc.get("sid") != sid:
                    continue
                if sid is None and oidc.get("sub") != sub:
                    continue
                session.revoked_at = now
                ended += 1
            if ended:
                self.audit(
                    tx, connection.org_id, actor, "session.backchannel_logout", connection,
                    slug=connection.slug, sessions=ended,
                )  # fmt: skip
        return ended
