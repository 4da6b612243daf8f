"""Server-side sign-in sessions: the cookie carries a random token, the database its hash and the state.

Removing or suspending a member revokes their sessions in the same transaction, so access ends at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.domain import model as m
from gateway.services.base import ServiceBase, hash_token, new_id
from gateway.storage.store import fresh

IDLE_TIMEOUT = timedelta(hours=8)
ABSOLUTE_TIMEOUT = timedelta(hours=24)


SEEN_RESOLUTION = timedelta(minutes=1)
"""How often a session's ``last_seen_at`` (its idle timer) is written."""


@dataclass(frozen=True)
class SignedIn:
    session: m.WebSession
    org: m.Organization
    member: m.Member


class SessionService(ServiceBase):
    idle_timeout = IDLE_TIMEOUT
    absolute_timeout = ABSOLUTE_TIMEOUT

    def start(self, org_id: str, member_id: str, actor: m.Actor, **data: object) -> tuple[m.WebSession, str]:
        """A fresh session (a new token every sign-in, so a pre-sign-in token can never be fixed on a victim)."""
        issued = self.tokens.issue("gws")
        now = self.now()
        with self.db.transaction() as tx:
            member = self.found(tx.get(m.Member, org_id, member_id), "member")
            session = m.WebSession(
                id=new_id(), token_hash=issued.token_hash, created_at=now, last_seen_at=now,
                expires_at=now + self.absolute_timeout, org_id=org_id, member_id=member.id, data=dict(data),
            )  # fmt: skip
            tx.insert_new(session)
            self.audit(tx, org_id, actor, "session.started", member, session_id=session.id)
            return session, issued.token

    def sign_in(
        self, org_id: str, member_id: str, actor: m.Actor, previous_token: str | None, data: dict[str, object]
    ) -> str:
        """End the browser's previous session (``previous_token``, if any) and start a fresh one for the member,
        in one transaction; returns the new session's token (a new token every sign-in, as ``start``).

        Nothing in a sign-in reads the new session back, nor the previous one, so its row and the previous one's
        end wait for the transaction's last statement (``Store.insert_at_commit``, ``Store.update_at_commit``):
        on PostgreSQL they go in one statement with the audit rows, two round trips fewer than ``end`` and
        ``start``."""
        issued = self.tokens.issue("gws")
        now = self.now()
        with self.db.transaction() as tx:
            if previous_token:
                tx.revoke_session_by_hash(hash_token(previous_token), now, at_commit=True)
            member = self.found(tx.get(m.Member, org_id, member_id), "member")
            session = fresh(
                m.WebSession,
                id=new_id(), token_hash=issued.token_hash, created_at=now, last_seen_at=now,
                expires_at=now + self.absolute_timeout, org_id=org_id, member_id=member.id, data=dict(data),
            )  # fmt: skip
            tx.insert_object_at_commit(session)
            self.audit(tx, org_id, actor, "session.started", member, session_id=session.id)
        return issued.token

    def resolve(self, token: str) -> SignedIn | None:
        """The live session behind a cookie, touching its idle timer; None when unknown, expired or revoked."""
        if not token:
            return None
        now = self.now()
        with self.db.transaction(write=False) as tx:
            found = tx.member_session_by_hash(hash_token(token))
            if found is None:
                return None
            session, member, org = found
            if not session.is_valid_at(now, self.idle_timeout) or member.status is not m.MemberStatus.ACTIVE:
                return None
            if session.last_seen_at is None or now - session.last_seen_at >= SEEN_RESOLUTION:
                # The idle timer moves once a minute, not on every request (the timeout is hours).
                if tx.write:
                    session.last_seen_at = now
                else:
                    session_id = session.id
                    tx.defer(lambda later: later.touch_web_session(session_id, now))
            return SignedIn(session, org, member)

    def start_identity(
        self, email: str, email_verified: bool, provider: str, subject: str
    ) -> tuple[m.WebSession, str]:
        """A session for someone the platform login provider signed in who is not (yet) a member: it carries
        only their verified identity, which accepting an invitation turns into a member session."""
        issued = self.tokens.issue("gws")
        now = self.now()
        with self.db.transaction() as tx:
            session = m.WebSession(
                id=new_id(), token_hash=issued.token_hash, created_at=now, last_seen_at=now,
                expires_at=now + self.absolute_timeout,
                data={"identity": {"email": email, "email_verified": email_verified, "provider": provider, "subject": subject}},
            )  # fmt: skip
            tx.add(session)
            return session, issued.token

    def identity(self, token: str) -> dict | None:
        """The verified platform identity carried by a session (identity-only or member), if still valid."""
        if not token:
            return None
        with self.db.transaction() as tx:
            session = tx.web_session_by_hash(hash_token(token))
            if session is None or not session.is_valid_at(self.now(), self.idle_timeout):
                return None
            identity = (session.data or {}).get("identity")
            return dict(identity) if identity else None

    def end(self, token: str) -> None:
        with self.db.transaction() as tx:
            tx.revoke_session_by_hash(hash_token(token or ""), self.now())
