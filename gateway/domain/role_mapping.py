"""The role an IdP's groups give a member, when the connection maps groups to roles.

A groups claim can be cut short: Microsoft Entra ID leaves ``groups`` out of a token for a person in more
than its limit of groups (about 150 in SAML, 200 in a JWT) and names where the full list lives instead
(``_claim_names``/``_claim_sources`` in OIDC, the ``groups.link`` attribute in SAML). A short list proves
membership of the groups it names but not absence from the others, so it can promote, never demote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.domain.model import Role


@dataclass(frozen=True)
class GroupsClaim:
    """The groups an assertion names, and whether that is the whole list (``source``: where the rest is)."""

    groups: tuple[str, ...]
    complete: bool = True
    source: str | None = None


@dataclass(frozen=True)
class RoleDecision:
    """``role`` ``None`` means no opinion (the member keeps their role); ``kept_because`` says why."""

    role: Role | None
    kept_because: str | None = None


def role_from_groups(claim: GroupsClaim, admin_groups: Iterable[str]) -> RoleDecision:
    admins = set(admin_groups)
    if not admins:
        return RoleDecision(None)
    if admins & set(claim.groups):
        return RoleDecision(Role.ADMIN)
    if not claim.complete:
        return RoleDecision(None, "groups_overage")
    return RoleDecision(Role.MEMBER)
