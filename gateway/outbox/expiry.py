"""Announcing expired invitations. An invitation expires by the clock, not by a write, so nothing would ever
publish ``invitation.expired``; the worker runs this sweep, which audits each expiry once (per expiry time: a
resend sets a new one) and so, through the outbox writer, publishes it like any other membership change.
The invitation row itself is left alone: its stored status stays ``pending`` and the domain reports it expired."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.services.base import ServiceBase
from gateway.storage.outbox_store import OutboxStore


class InvitationExpiry(ServiceBase):
    def announce_expired(self, limit: int = 100) -> int:
        """Audit (and so publish) every not yet announced expiry; returns how many were announced."""
        with self.db.transaction() as tx:
            org_ids = OutboxStore(tx).orgs_with_unannounced_expiries(self.now(), limit)
        announced = 0
        for org_id in org_ids:
            with self.db.transaction() as tx:
                self.locked_org(tx, org_id)
                store = OutboxStore(tx)
                now = self.now()
                for invitation in store.unannounced_expiries(org_id, now):
                    store.note_expiry_announced(invitation, now)
                    self.audit(
                        tx, org_id, m.Actor.system(), "invitation.expired", invitation,
                        email=invitation.email, expired_at=invitation.expires_at.isoformat(),
                    )  # fmt: skip
                    announced += 1
        return announced
