"""Who an accepted assertion is about: email, profile and role, read with the connection's attribute names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.domain import model as m
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
    groups = tuple(str(g) for g in attributes.get(names.get("groups", ""), ()) if str(g).strip())
    given, family = (
        _first(attributes, names.get("first_name", "")),
        _first(attributes, names.get("last_name", "")),
    )
    display = " ".join(part for part in (given, family) if part) or None
    # A role only when the connection maps groups to roles: the IdP is then authoritative for it.
    role: m.Role | None = None
    if config.admin_groups:
        role = m.Role.ADMIN if set(groups) & set(config.admin_groups) else m.Role.MEMBER
    return SamlIdentity(
        email=email,
        name_id=name_id or email,
        name_id_format=name_id_format,
        session_index=session_index,
        role=role,
        profile=Profile(display_name=display, given_name=given, family_name=family),
        groups=groups,
    )
