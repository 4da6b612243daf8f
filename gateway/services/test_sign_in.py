"""Test sign-in as a diagnosis: what the identity provider sent, and what the gateway would do with it.

A test sign-in runs against a connection in any state (disabled, or before the switch to SSO mode) in a flow of
its own: it never starts or replaces a session and never creates, restores or changes a member. The protocol
adapter verifies the IdP's answer exactly as for a real sign-in and hands over what it saw; this service
predicts the outcome with the same domain rule the real sign-in uses (``decide_sso_sign_in``), in a read-only
transaction, and saves the report as the connection's last test result (``config["last_test"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.domain import model as m
from gateway.domain.errors import DomainError
from gateway.domain.policy import decide_sso_sign_in, email_domain, normalize_email
from gateway.services.base import ServiceBase

ACTIONS = {
    "sign_in": "sign in the existing member",
    "create": "create the member just in time",
    "restore": "bring the removed member back",
}


@dataclass(frozen=True)
class Received:
    """What the identity provider sent, as the adapter verified it."""

    subject: str | None = None
    email: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Protocol facts: issuer, NameID format, session index, signature algorithm, certificate, times."""


def _plain(value: Any) -> Any:
    """JSON-safe copy of claims and attributes (values the IdP sent; datetimes as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class SignInTestService(ServiceBase):
    def predict(self, connection: m.SsoConnection, email: str, role: m.Role | None) -> dict[str, Any]:
        """What a real sign-in with ``email`` (and the role the groups map to, if any) would do now, and, when
        the organization is still in invitation mode, what it would do after the switch to SSO mode."""
        with self.db.transaction() as tx:
            org = self.found(tx.org(connection.org_id), "organization")
            address = normalize_email(email)
            existing = tx.member_by_email(org.id, address)
            domain = tx.domain(email_domain(address))
            verified = domain is not None and domain.verified and domain.org_id == org.id
            blocked = tx.is_blocked(org.id, address)
            elsewhere = tx.live_account_elsewhere(org.id, address) if existing is None else None
            outcome = self._decide(org, existing, blocked, verified, elsewhere, role)
            if org.mode is m.MembershipMode.INVITATION:
                as_sso = m.Organization(org.id, org.slug, org.name, m.MembershipMode.SSO, org.created_at)
                outcome["after_switch_to_sso"] = self._decide(
                    as_sso, existing, blocked, verified, elsewhere, role
                )
            if not connection.is_usable:
                outcome["note"] = (
                    "The connection is disabled" + (" (invitation mode)" if connection.suspended else "")
                    + ": real sign-ins through it are refused until it is enabled."
                )  # fmt: skip
            return outcome

    @staticmethod
    def _decide(
        org: m.Organization,
        existing: m.Member | None,
        blocked: bool,
        verified: bool,
        elsewhere: m.Member | None,
        role: m.Role | None,
    ) -> dict[str, Any]:
        try:
            decided = decide_sso_sign_in(org, existing, blocked=blocked, domain_verified=verified)
        except DomainError as error:
            return {"action": "refuse", "reason": error.code, "why": error.message}
        if decided.value == "create" and elsewhere is not None:
            return {
                "action": "refuse",
                "reason": "account_in_other_organization",
                "why": "This email already belongs to another organization; the account must be migrated first.",
            }
        if existing is not None and decided.value == "sign_in":
            final = role or existing.role
        else:
            final = role or m.Role.MEMBER
        why = ACTIONS[decided.value] + f" as {final.value}"
        if role is not None:
            why += " (the role follows the connection's admin groups)"
        elif existing is not None and decided.value == "sign_in":
            why += " (the member keeps their role: the connection maps no groups to roles)"
        return {"action": decided.value, "role": final.value, "why": why + "."}

    def record(
        self,
        connection: m.SsoConnection,
        actor: m.Actor,
        *,
        received: Received | None,
        outcome: dict[str, Any] | None,
        error: DomainError | None = None,
    ) -> dict[str, Any]:
        """Save the report as the connection's last test result (audited); returns it."""
        ok = error is None and outcome is not None and outcome.get("action") != "refuse"
        report: dict[str, Any] = {
            "at": self.now().isoformat(),
            "protocol": connection.protocol.value,
            "ok": ok,
            "connection_state": "enabled" if connection.is_usable else "disabled",
            "received": None,
            "outcome": outcome,
            "error": {"code": error.code, "message": error.message} if error else None,
        }
        if received is not None:
            report["received"] = {
                "subject": received.subject,
                "email": received.email,
                "claims": _plain(received.claims),
                "groups": list(received.groups),
                **_plain(received.details),
            }
        if error is not None:
            report["outcome"] = {
                "action": "refuse",
                "reason": error.code,
                "why": "The gateway refused the identity provider's answer: " + error.message,
            }
        with self.db.transaction() as tx:
            stored = self.found(tx.get(m.SsoConnection, connection.org_id, connection.id), "connection")
            stored.config = {**(stored.config or {}), "last_test": report}
            self.audit(
                tx, connection.org_id, actor, "connection.test_sign_in", stored, slug=stored.slug, ok=ok,
                outcome=(report["outcome"] or {}).get("action"), reason=(report["outcome"] or {}).get("reason"),
            )  # fmt: skip
        return report


def last_test(connection: m.SsoConnection) -> dict[str, Any] | None:
    return (connection.config or {}).get("last_test")


def has_passed_a_test(connection: m.SsoConnection) -> bool:
    found = last_test(connection)
    return bool(found and found.get("ok"))
