"""Provisioning vocabulary: identity-provider groups, group -> role mappings, the rules that turn what an
identity provider pushes into a member's email and role, and the query language IdPs use to find people.

Pure Python, like the rest of the domain: no framework imports, time passed in by the callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.domain.errors import DomainError, InvalidInput
from gateway.domain.model import Role

# A user the identity provider pushes without any email address still becomes a member (the SCIM schema
# only requires userName). Such a member gets a unique address under this reserved, never-routable domain
# (RFC 2606 ``.invalid``): nobody can sign in with it, so no SSO sign-in or invitation can ever match it.
PLACEHOLDER_EMAIL_DOMAIN = "scim.invalid"


@dataclass(eq=False)
class Group:
    """A group pushed by the identity provider. Members are ``GroupMember`` rows, never a list on the group,
    so adding one person to a 10,000-member group writes one row."""

    id: str
    org_id: str
    display_name: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    version: int = 1
    attributes: dict = field(default_factory=dict)


@dataclass(eq=False)
class GroupMember:
    """One person in one group; ``display`` is the label the IdP sent for them, echoed back as sent."""

    org_id: str
    group_id: str
    member_id: str
    created_at: datetime
    display: str | None = None


@dataclass(eq=False)
class GroupRoleMapping:
    """An Admin's rule "members of the IdP group named ``group_name`` get ``role``" (names compare
    case-insensitively; the mapping may exist before the IdP pushes the group)."""

    id: str
    org_id: str
    group_name: str
    role: Role
    created_at: datetime


@dataclass(eq=False)
class UserEmail:
    """One address of a provisioned user, kept apart from the member's attributes so filters such as
    ``emails[type eq "work"].value eq "x"`` run as indexed SQL on every backend."""

    id: str
    org_id: str
    member_id: str
    value: str
    position: int
    type: str | None = None
    primary: bool = False


class InvalidFilter(InvalidInput):
    code = "invalid_filter"


class VersionMismatch(DomainError):
    """The caller's expected version (an ETag in ``If-Match``) is not the stored one."""

    code = "version_mismatch"


# -- rules -------------------------------------------------------------------------------------------------
def email_from_identity(emails: Sequence[dict[str, Any]], user_name: str | None) -> str | None:
    """The address that becomes the member's email, in the order Okta, Entra ID, Google and JumpCloud fill it:

    1. the email marked ``primary`` (Okta, Google, JumpCloud always mark one);
    2. else the ``work`` email (Entra ID sends ``emails[type eq "work"]`` with no primary flag);
    3. else the first email;
    4. else ``userName`` when it is an address (Entra ID's userPrincipalName, Okta's login).

    Returns ``None`` when none of them is an address; the caller then uses a placeholder.
    """
    addresses = [e for e in emails if isinstance(e.get("value"), str) and _looks_like_email(e["value"])]
    for pick in (
        lambda e: e.get("primary") is True,
        lambda e: str(e.get("type") or "").lower() == "work",
        lambda e: True,
    ):
        chosen = next((e for e in addresses if pick(e)), None)
        if chosen is not None:
            return chosen["value"].strip()
    if user_name and _looks_like_email(user_name):
        return user_name.strip()
    return None


def placeholder_email(member_key: str) -> str:
    return f"{member_key}@{PLACEHOLDER_EMAIL_DOMAIN}"


def is_placeholder_email(email: str) -> bool:
    return email.endswith("@" + PLACEHOLDER_EMAIL_DOMAIN)


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.strip().partition("@")
    return bool(at and local and "." in domain and " " not in value.strip())


def role_claim(values: Iterable[str]) -> Role:
    """The role a SCIM ``roles`` attribute asks for: Admin if any value names it, else Member.

    Identity providers send their own role names too (Entra ID app roles, Okta custom values); anything that
    is not "admin" grants nothing beyond Member."""
    return Role.ADMIN if any(str(v).strip().lower() == Role.ADMIN.value for v in values) else Role.MEMBER


def resolve_role(claimed: Role | None, mapped: Iterable[Role], current: Role) -> Role:
    """The role provisioning gives a member (rule 7).

    ``claimed`` comes from the ``roles`` attribute (``None`` when the IdP does not send it), ``mapped`` from
    the IdP groups the member is in that an Admin mapped to a role. With no opinion from either source the
    current role stays, so an Admin promoted in the UI is not demoted by an IdP that never sends roles.
    """
    opinions = [*([claimed] if claimed is not None else []), *mapped]
    if not opinions:
        return current
    return Role.ADMIN if Role.ADMIN in opinions else Role.MEMBER


# -- the query language ------------------------------------------------------------------------------------
# A filter (RFC 7644 section 3.4.2.2) parsed by the protocol adapter into these nodes, then compiled by
# storage into SQL. Attribute names are kept as written; resolution (case-insensitive) happens at compile time.

COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})


@dataclass(frozen=True)
class AttrPath:
    """``[urn:...:]attr[.sub]``; ``urn`` is the schema URN prefix when one was written."""

    attr: str
    sub: str | None = None
    urn: str | None = None

    def __str__(self) -> str:
        text = f"{self.attr}.{self.sub}" if self.sub else self.attr
        return f"{self.urn}:{text}" if self.urn else text


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    expr: Filter


@dataclass(frozen=True)
class ValuePath:
    """``emails[type eq "work"]``: some element of the multi-valued ``path`` matches ``expr`` (whose paths are
    sub-attribute names of that element)."""

    path: AttrPath
    expr: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class SortSpec:
    path: AttrPath
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """One page of a list request: filter, order and window (``offset`` is 0-based).

    ``after`` / ``before`` (only without ``sort``) ask for a keyset page instead: the rows that follow (or
    precede) the row whose ``(created_at, id)`` is given, in list order, whatever ``offset`` says."""

    filter: Filter | None = None
    sort: SortSpec | None = None
    offset: int = 0
    limit: int = 100
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
