"""Who an accepted assertion is about: email, profile and role, read with the connection's attribute names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import model as m
from gateway.domain.role_mapping import role_from_groups
from gateway.services.group_overage import saml_groups_claim
from gateway.services.members import Profile
from gateway.services.saml_connections import NAMEID_EMAIL, SamlConfig, SamlRefused


@dataclass(frozen=True)
class SamlIdentity:
    email: str
    name_id: str
    name_id_format: str | None
    session_index: str | None
    role: m.Role | None
    profile: Profile
    groups: tuple[str, ...]
    # What the sign-in's audit event says about the role (e.g. kept because Entra cut the groups short).
    role_audit: dict[str, Any] = field(default_factory=dict)


def _first(attributes: Mapping[str, Sequence[str]], name: str) -> str | None:
    if not name:
        return None
    for value in attributes.get(name, ()):
        if value and str(value).strip():
            return str(value).strip()
    return None


def identity_from(
    config: SamlConfig,
    *,
    name_id: str | None,
    name_id_format: str | None,
    session_index: str | None,
    attributes: Mapping[str, Sequence[str]],
) -> SamlIdentity:
    """The email comes from the email attribute, else from an emailAddress-format NameID. The role is ``None``
    unless the connection maps IdP groups to the Admin role (``admin_groups``)."""
    names = config.attributes
    email = _first(attributes, names.get("email", ""))
    if email is None and name_id and name_id_format in (NAMEID_EMAIL, None) and "@" in name_id:
        email = name_id.strip()
    if not email:
        raise SamlRefused(
            "saml_no_email",
            "The identity provider did not send an email address (attribute or emailAddress NameID).",
        )
    claim = saml_groups_claim(attributes, names.get("groups", ""))
    given, family = (
        _first(attributes, names.get("first_name", "")),
        _first(attributes, names.get("last_name", "")),
    )
    display = " ".join(part for part in (given, family) if part) or None
    # A role only when the connection maps groups to roles: the IdP is then authoritative for it, except when
    # Entra cut the groups short (groups.link): a SAML connection has no credentials to fetch the rest, so the
    # member keeps their role and the audit event says why.
    decision = role_from_groups(claim, config.admin_groups)
    role_audit = (
        {"role_kept": decision.kept_because, "role_kept_detail": "the connection has no credentials"}
        if decision.kept_because
        else {}
    )
    return SamlIdentity(
        email=email,
        name_id=name_id or email,
        name_id_format=name_id_format,
        session_index=session_index,
        role=decision.role,
        profile=Profile(display_name=display, given_name=given, family_name=family),
        groups=claim.groups,
        role_audit=role_audit,
    )
