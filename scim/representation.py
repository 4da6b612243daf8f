"""Members and groups as SCIM resources, and SCIM documents as the service's records (the boundary mapping).

What a field means on the way in and out is decided here once: ``id``, ``meta`` and ``groups`` are read-only
(ignored when sent), ``password`` is write-only (accepted, never stored, never returned), ``active`` is the
member's status, ``emails`` decide the member's email (``email_from_identity``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.domain import model as m
from gateway.domain.groups import Group, is_placeholder_email
from gateway.services.provisioning import GroupRecord, UserRecord
from scim.schema import CORE_USER, ENTERPRISE_URN, GROUP_URN, USER_URN, InvalidValue

# Attributes the core keeps in columns (the rest of a user's representation lives in ``attributes``).
_USER_COLUMNS = ("userName", "externalId", "displayName")
_NEVER_STORED = ("password",)


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(header: str | None) -> int | None:
    """The version an ``If-Match`` header names; ``None`` for no header or ``*``; -1 when it cannot match."""
    if header is None or header.strip() in ("", "*"):
        return None
    value = header.strip().split(",")[0].strip()
    value = value.removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else -1


# -- users -------------------------------------------------------------------------------------------------
def user_writable(member: m.Member) -> dict[str, Any]:
    """The user's writable attributes (what PUT sends and PATCH changes), under canonical names."""
    attrs = member.attributes or {}
    doc: dict[str, Any] = {"userName": member.user_name or member.email}
    if member.external_id:
        doc["externalId"] = member.external_id
    name = dict(attrs.get("name") or {})
    for key, value in (("givenName", member.given_name), ("familyName", member.family_name)):
        if value is not None:
            name[key] = value
        else:
            name.pop(key, None)
    if name:
        doc["name"] = name
    if member.display_name:
        doc["displayName"] = member.display_name
    for attr in CORE_USER.attributes.values():
        if attr.name in ("userName", "name", "displayName", "active", "groups", *_NEVER_STORED):
            continue
        if attr.name in attrs:
            doc[attr.name] = attrs[attr.name]
    if "active" in attrs or member.status is m.MemberStatus.SUSPENDED:
        doc["active"] = member.status is m.MemberStatus.ACTIVE
    if not member.scim_linked and "emails" not in doc and not is_placeholder_email(member.email):
        doc["emails"] = [{"value": member.email, "type": "work", "primary": True}]
    if attrs.get(ENTERPRISE_URN):
        doc[ENTERPRISE_URN] = attrs[ENTERPRISE_URN]
    return doc


def user_document(member: m.Member, groups: list[tuple[str, str]], base_url: str) -> dict[str, Any]:
    doc = user_writable(member)
    schemas = [USER_URN, *([ENTERPRISE_URN] if ENTERPRISE_URN in doc else [])]
    out: dict[str, Any] = {"schemas": schemas, "id": member.id, **doc}
    if groups:
        out["groups"] = [
            {"value": gid, "$ref": f"{base_url}/Groups/{gid}", "display": name, "type": "direct"}
            for gid, name in groups
        ]
    out["meta"] = {
        "resourceType": "User",
        "created": timestamp(member.created_at),
        "lastModified": timestamp(member.updated_at),
        "location": f"{base_url}/Users/{member.id}",
        "version": etag(member.version),
    }
    return out


def user_record(doc: dict[str, Any]) -> UserRecord:
    user_name = doc.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValue("userName is required.")
    if len(user_name) > 320:
        raise InvalidValue("userName is longer than 320 characters.")
    name = doc.get("name") or {}
    roles = doc.get("roles")
    return UserRecord(
        user_name=user_name.strip(),
        external_id=_limited(doc.get("externalId"), "externalId", 320),
        display_name=_limited(doc.get("displayName"), "displayName", 200),
        given_name=_limited(name.get("givenName"), "name.givenName", 200),
        family_name=_limited(name.get("familyName"), "name.familyName", 200),
        emails=list(doc.get("emails") or []),
        active=doc.get("active"),
        roles=[str(r.get("value", "")) for r in roles] if roles is not None else None,
        attributes={k: v for k, v in doc.items() if k not in (*_USER_COLUMNS, *_NEVER_STORED)},
    )


def _limited(value: Any, label: str, size: int) -> str | None:
    if value is None:
        return None
    if len(value) > size:
        raise InvalidValue(f"{label} is longer than {size} characters.")
    return value


# -- groups ------------------------------------------------------------------------------------------------
def group_writable(group: Group) -> dict[str, Any]:
    doc: dict[str, Any] = {"displayName": group.display_name}
    if group.external_id:
        doc["externalId"] = group.external_id
    doc.update({k: v for k, v in (group.attributes or {}).items() if k not in doc})
    return doc


def group_document(
    group: Group, members: list[tuple[m.Member, str | None]] | None, base_url: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"schemas": [GROUP_URN], "id": group.id, **group_writable(group)}
    if members:
        out["members"] = [_member_ref(member, display, base_url) for member, display in members]
    out["meta"] = {
        "resourceType": "Group",
        "created": timestamp(group.created_at),
        "lastModified": timestamp(group.updated_at),
        "location": f"{base_url}/Groups/{group.id}",
        "version": etag(group.version),
    }
    return out


def _member_ref(member: m.Member, display: str | None, base_url: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"value": member.id, "$ref": f"{base_url}/Users/{member.id}", "type": "User"}
    if display:
        ref["display"] = display
    return ref


def group_record(doc: dict[str, Any]) -> tuple[GroupRecord, list[str], dict[str, str]]:
    """The group's record, its member ids and the labels the IdP gave them."""
    name = doc.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("displayName is required.")
    if len(name) > 256:
        raise InvalidValue("displayName is longer than 256 characters.")
    members = doc.get("members") or []
    ids: list[str] = []
    displays: dict[str, str] = {}
    for ref in members:
        value = ref.get("value")
        if not isinstance(value, str) or not value:
            raise InvalidValue("Every member needs a 'value' (the id of a user).")
        if str(ref.get("type") or "User").lower() != "user":
            raise InvalidValue("Only users can be group members; nested groups are not supported.")
        ids.append(value)
        if ref.get("display"):
            displays[value] = ref["display"]
    attributes = {k: v for k, v in doc.items() if k not in ("displayName", "externalId", "members")}
    record = GroupRecord(name.strip(), _limited(doc.get("externalId"), "externalId", 320), attributes)
    return record, ids, displays
