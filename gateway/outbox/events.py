"""What the platform hears about: which audit actions become published events, under which type, and what
each event says. Events carry a snapshot of the changed object as it is inside the transaction that changed it,
never a secret (no token, hash or signing secret)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.domain import model as m
from gateway.storage.store import Store

ACTION_TYPES: dict[str, str] = {
    "member.joined": "member.created",
    "member.linked": "member.updated",
    "member.updated": "member.updated",
    "member.role_changed": "member.updated",
    "member.suspended": "member.suspended",
    "member.restored": "member.restored",
    "member.removed": "member.removed",
    "invitation.created": "invitation.sent",
    "invitation.resent": "invitation.sent",
    "invitation.accepted": "invitation.accepted",
    "invitation.revoked": "invitation.revoked",
    "invitation.expired": "invitation.expired",
    "mode.switched": "mode.switched",
    "connection.created": "connection.created",
    "connection.enabled": "connection.enabled",
    "connection.disabled": "connection.disabled",
    "connection.revoked": "connection.revoked",
    "connection.deleted": "connection.revoked",
    "connection.updated": "connection.updated",
    "connection.oidc.secret_rotated": "connection.updated",
    "connection.saml.metadata_refreshed": "connection.updated",
    "scim_token.created": "scim_token.created",
    "scim_token.disabled": "scim_token.disabled",
    "scim_token.enabled": "scim_token.enabled",
    "scim_token.revoked": "scim_token.revoked",
    "project.member_added": "project.member_added",
    "project.member_removed": "project.member_removed",
    "email.blocked": "email.blocked",
    "email.unblocked": "email.unblocked",
    "domain.verified": "domain.verified",
    "domain.removed": "domain.removed",
    "domain.claim_released": "domain.claim_released",
    "domain.verified_elsewhere": "domain.verified_elsewhere",
    "account_migration.requested": "account_migration.requested",
    "account_migration.confirmed": "account_migration.confirmed",
    "account_migration.approved": "account_migration.approved",
    "account_migration.approval_needed": "account_migration.approval_needed",
    "account_migration.applied": "account_migration.applied",
    "account_migration.refused": "account_migration.refused",
}
"""Audit action -> published event type. Other member actions an adapter may add are published as
``member.updated``; group actions (SCIM Groups) keep their own name."""

EVENT_TYPES: tuple[str, ...] = (
    *sorted(set(ACTION_TYPES.values())),
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
)
"""Every type a webhook endpoint can subscribe to."""


def event_type_for(action: str) -> str | None:
    if action in ACTION_TYPES:
        return ACTION_TYPES[action]
    if action.startswith("member."):
        return "member.updated"
    if action in EVENT_TYPES:
        return action
    return None


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class Described:
    type: str
    data: dict[str, Any]


def member_view(member: m.Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "email": member.email,
        "role": member.role.value,
        "status": member.status.value,
        "joined_via": member.joined_via.value,
        "display_name": member.display_name,
        "given_name": member.given_name,
        "family_name": member.family_name,
        "user_name": member.user_name,
        "external_id": member.external_id,
        "scim_linked": member.scim_linked,
        "version": member.version,
        "removed_by": member.removed_by.value if member.removed_by else None,
    }


def invitation_view(invitation: m.Invitation, at: datetime | None = None) -> dict[str, Any]:
    status = invitation.status_at(at) if at is not None else invitation.status
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role.value,
        "status": status.value,
        "sent_at": iso(invitation.sent_at),
        "expires_at": iso(invitation.expires_at),
        "send_count": invitation.send_count,
        "invited_by": invitation.invited_by,
    }


def connection_view(connection: m.SsoConnection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "slug": connection.slug,
        "protocol": connection.protocol.value,
        "name": connection.name,
        "enabled": connection.enabled,
        "suspended": connection.suspended,
    }


def scim_token_view(token: m.ScimToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "prefix": token.prefix,
        "name": token.name,
        "suspended": token.suspended,
        "revoked_at": iso(token.revoked_at),
    }


_VIEWS: dict[str, tuple[type, Any]] = {
    "member": (m.Member, member_view),
    "invitation": (m.Invitation, invitation_view),
    "ssoconnection": (m.SsoConnection, connection_view),
    "scimtoken": (m.ScimToken, scim_token_view),
}


def _snapshot(
    tx: Store, org_id: str, kind: str, obj_id: str | None, at: datetime
) -> tuple[str, dict[str, Any]] | None:
    if kind not in _VIEWS or obj_id is None:
        return None
    cls, view = _VIEWS[kind]
    obj = tx.get(cls, org_id, obj_id)
    if obj is None:
        return None
    name = {"ssoconnection": "connection", "scimtoken": "scim_token"}.get(kind, kind)
    return name, (invitation_view(obj, at) if kind == "invitation" else view(obj))


def describe(tx: Store, event: m.AuditEvent) -> list[Described]:
    """The published events for one audit event: none, one, or (for a mode switch) one for the switch and one
    for each invitation, connection and SCIM token it changed, so a consumer sees every change."""
    event_type = event_type_for(event.action)
    if event_type is None:
        return []
    data: dict[str, Any] = {
        "action": event.action,
        "actor": {"type": event.actor_type.value, "id": event.actor_id, "label": event.actor_label},
        "details": dict(event.details or {}),
    }
    if event.target_type:
        data["target"] = {"type": event.target_type, "id": event.target_id}
    snapshot = _snapshot(tx, event.org_id, event.target_type or "", event.target_id, event.at)
    if snapshot is not None:
        data[snapshot[0]] = snapshot[1]
    described = [Described(event_type, data)]
    if event.action == "mode.switched":
        described += _mode_switch_effects(tx, event, data["actor"])
    return described


def _mode_switch_effects(tx: Store, event: m.AuditEvent, actor: dict[str, Any]) -> list[Described]:
    details = event.details or {}
    effects = [
        ("invitations_revoked", "invitation.revoked", "invitation"),
        ("scim_tokens_suspended", "scim_token.disabled", "scimtoken"),
        ("scim_tokens_restored", "scim_token.enabled", "scimtoken"),
        ("connections_suspended", "connection.disabled", "ssoconnection"),
        ("connections_restored", "connection.enabled", "ssoconnection"),
    ]
    out = []
    for key, event_type, kind in effects:
        for obj_id in details.get(key) or []:
            data: dict[str, Any] = {
                "action": event.action,
                "actor": actor,
                "details": {"reason": "mode_switched", "to": details.get("to")},
            }
            snapshot = _snapshot(tx, event.org_id, kind, obj_id, event.at)
            if snapshot is not None:
                data[snapshot[0]] = snapshot[1]
            out.append(Described(event_type, data))
    return out
