"""Storage contract of the OpenID Connect side: pending sign-ins and the one cross-organization lookup the
platform login provider needs. Wraps the session of a ``Store`` so it joins that store's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.storage.oidc_tables import OidcLoginState, map_oidc_entities
from gateway.storage.store import Store


class OidcStore:
    def __init__(self, store: Store) -> None:
        map_oidc_entities()
        self.session = store.session

    def add_login_state(self, state: OidcLoginState) -> None:
        self.session.add(state)

    def take_login_state(self, state_hash: str) -> OidcLoginState | None:
        """The pending sign-in for this ``state`` hash, deleted in the same transaction (single use).

        The row is locked first, so of two concurrent callbacks with the same ``state`` only one gets it."""
        record = self.session.scalars(
            sa.select(OidcLoginState).where(OidcLoginState.state_hash == state_hash).with_for_update()
        ).one_or_none()
        if record is not None:
            self.session.delete(record)
            self.session.flush()
        return record

    def purge_login_states(self, now: datetime) -> int:
        """Delete pending sign-ins that expired (abandoned at the identity provider)."""
        result = self.session.execute(sa.delete(OidcLoginState).where(OidcLoginState.expires_at <= now))
        return int(result.rowcount or 0)

    def live_member_by_email(self, email: str) -> m.Member | None:
        """The live (not removed) account with this email. Not scoped by organization on purpose: every
        account belongs to one organization, and the verified email is what identifies it here."""
        return self.session.scalars(
            sa.select(m.Member).where(m.Member.email == email, m.Member.status != m.MemberStatus.REMOVED)
        ).first()
