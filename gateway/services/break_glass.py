"""Break-glass sign-in: an operator issues a one-time, short-lived sign-in link for an Admin locked out by a
broken identity provider (``gateway admin break-glass ORG EMAIL``).

The link works once, only before it expires, only for a member who is still an active Admin of that
organization, and whatever the membership mode or the state of the SSO connections; issuing and using it are
audited. Only the token's hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from gateway.domain import model as m
from gateway.domain.errors import Forbidden, InvalidInput, NotFound
from gateway.domain.policy import normalize_email
from gateway.services.base import ServiceBase, hash_token, new_id
from gateway.storage.break_glass_tables import BreakGlassLink

LINK_LIFETIME = timedelta(minutes=15)
MAX_LIFETIME = timedelta(hours=1)


class BreakGlassRefused(Forbidden):
    """The link is unknown, used, expired, or its member is no longer an active Admin."""

    code = "break_glass_refused"


@dataclass(frozen=True)
class IssuedLink:
    link: BreakGlassLink
    token: str
    member: m.Member


class BreakGlassService(ServiceBase):
    def issue(
        self, org_id: str, email: str, actor: m.Actor, *, lifetime: timedelta = LINK_LIFETIME
    ) -> IssuedLink:
        """A new link for the active Admin ``email`` of ``org_id``; earlier unused links for them stop working."""
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise InvalidInput("A break-glass link lives between 1 and 60 minutes.", field="minutes")
        address = normalize_email(email)
        issued = self.tokens.issue("bg")
        now = self.now()
        with self.db.transaction() as tx:
            org = self.locked_org(tx, org_id)
            member = tx.member_by_email(org.id, address)
            if member is None or member.status is not m.MemberStatus.ACTIVE:
                raise NotFound(f"{org.slug} has no active member {address}.")
            if member.role is not m.Role.ADMIN:
                raise Forbidden(
                    f"{address} is not an Admin of {org.slug}; break-glass links are for Admins only."
                )
            tx.session.execute(
                sa.update(BreakGlassLink)
                .where(
                    BreakGlassLink.org_id == org.id,
                    BreakGlassLink.member_id == member.id,
                    BreakGlassLink.used_at.is_(None),
                )
                .values(expires_at=now)
            )
            link = BreakGlassLink(
                id=new_id(), org_id=org.id, member_id=member.id, token_hash=issued.token_hash,
                created_at=now, expires_at=now + lifetime, issued_by=actor.label or actor.type.value,
            )  # fmt: skip
            tx.add(link)
            self.audit(
                tx, org.id, actor, "break_glass.issued", member,
                email=member.email, expires_at=link.expires_at.isoformat(),
            )  # fmt: skip
            return IssuedLink(link, issued.token, member)

    def redeem(self, token: str, actor: m.Actor) -> m.Member:
        """Consume the link (single use) and return the Admin it signs in; ``BreakGlassRefused`` otherwise."""
        now = self.now()
        with self.db.transaction() as tx:
            link = tx.session.scalars(
                sa.select(BreakGlassLink)
                .where(BreakGlassLink.token_hash == hash_token(token or ""))
                .with_for_update()
            ).first()
            if link is None or link.used_at is not None:
                raise BreakGlassRefused(
                    "This sign-in link is unknown or was already used. Ask for a new one."
                )
            if now >= link.expires_at:
                raise BreakGlassRefused("This sign-in link has expired. Ask for a new one.")
            self.locked_org(tx, link.org_id)
            member = tx.get(m.Member, link.org_id, link.member_id)
            if (
                member is None
                or member.status is not m.MemberStatus.ACTIVE
                or member.role is not m.Role.ADMIN
            ):
                raise BreakGlassRefused("This sign-in link is for an Admin, and its member is no longer one.")
            link.used_at = now
            self.audit(tx, link.org_id, actor, "break_glass.used", member, email=member.email)
            return member
