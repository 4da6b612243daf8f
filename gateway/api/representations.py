"""Output schemas: the JSON shape of every entity the API returns (marshmallow ``dump``).

Only declared fields are dumped, so token hashes, connection secrets and session data never leave the
gateway; a bearer token appears only in the response that creates (or resends) it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from marshmallow import Schema, fields

from gateway.domain import model as m
from gateway.domain.policy import ModeSwitchPlan
from gateway.services.billing import Bill
from gateway.services.connection_lifecycle import DeletionPreview
from gateway.services.domains import DomainView
from gateway.services.members import AccessRevoked, MemberView
from gateway.services.orgs import OrgView
from gateway.services.saml_connections import BINDING_POST, SamlConfig, cert_fingerprint
from gateway.services.saml_metadata_refresh import MetadataRefresh
from gateway.storage.outbox_tables import (
    DeliveryAttempt,
    MessageKind,
    MessageStatus,
    OutboxEvent,
    OutboxMessage,
    WebhookEndpoint,
)

UrlFor = Callable[[str], str]
"""Builds an absolute URL under the configured public URL from a path."""


def _enum(enum: type, **kwargs: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kwargs)  # type: ignore[arg-type]


class OrganizationOut(Schema):
    id = fields.Str()
    slug = fields.Str()
    name = fields.Str()
    mode = _enum(m.MembershipMode)
    multi_project = fields.Bool()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProjectOut(Schema):
    id = fields.Str()
    name = fields.Str()
    is_default = fields.Bool()
    created_at = fields.DateTime()


class DomainOut(Schema):
    domain = fields.Str()
    verified = fields.Bool()


class MemberOut(Schema):
    id = fields.Str()
    email = fields.Str()
    display_name = fields.Str()
    given_name = fields.Str()
    family_name = fields.Str()
    user_name = fields.Str()
    external_id = fields.Str()
    role = _enum(m.Role)
    status = _enum(m.MemberStatus)
    joined_via = _enum(m.JoinPath)
    scim_linked = fields.Bool()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    suspended_at = fields.DateTime()
    removed_at = fields.DateTime()
    removed_by = _enum(m.RemovalSource)


class ResourceOut(Schema):
    id = fields.Str()
    project_id = fields.Str()
    kind = _enum(m.ResourceKind)
    name = fields.Str()
    created_by = fields.Str()
    created_at = fields.DateTime()


class CreditEntryOut(Schema):
    id = fields.Str()
    kind = _enum(m.CreditKind)
    credits = fields.Int()
    member_id = fields.Str()
    project_id = fields.Str(allow_none=True)
    description = fields.Str()
    created_at = fields.DateTime()


class MembershipOut(Schema):
    project_id = fields.Str()
    member_id = fields.Str()
    created_at = fields.DateTime()


class BlockedEmailOut(Schema):
    email = fields.Str()
    created_at = fields.DateTime()
    created_by = fields.Str()


class InvitationOut(Schema):
    id = fields.Str()
    email = fields.Str()
    role = _enum(m.Role)
    status = _enum(m.InvitationStatus)
    sent_at = fields.DateTime()
    expires_at = fields.DateTime()
    created_at = fields.DateTime()
    invited_by = fields.Str()
    accepted_at = fields.DateTime()
    accepted_member_id = fields.Str()
    revoked_at = fields.DateTime()
    send_count = fields.Int()


class ApiKeyOut(Schema):
    id = fields.Str()
    kind = _enum(m.ApiKeyKind)
    name = fields.Str()
    prefix = fields.Str()
    project_id = fields.Str()
    member_id = fields.Str()
    created_by_member_id = fields.Str()
    active = fields.Bool(attribute="is_active")
    created_at = fields.DateTime()
    revoked_at = fields.DateTime()
    last_used_at = fields.DateTime()


class ScimTokenOut(Schema):
    id = fields.Str()
    name = fields.Str()
    prefix = fields.Str()
    suspended = fields.Bool()
    usable = fields.Bool(attribute="is_usable")
    created_at = fields.DateTime()
    revoked_at = fields.DateTime()
    last_used_at = fields.DateTime()


class ConnectionOut(Schema):
    id = fields.Str()
    slug = fields.Str()
    protocol = _enum(m.ConnectionProtocol)
    name = fields.Str()
    preset = fields.Str()
    enabled = fields.Bool()
    suspended = fields.Bool()
    usable = fields.Bool(attribute="is_usable")
    created_at = fields.DateTime()


class WebhookEndpointOut(Schema):
    id = fields.Str()
    url = fields.Str()
    event_types = fields.Function(lambda e: list(e.event_types) or ["*"])
    description = fields.Str()
    enabled = fields.Bool()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    created_by = fields.Str()


class DeliveryOut(Schema):
    """An outbox message: the sealed invitation token never leaves the gateway."""

    id = fields.Str()
    kind = _enum(MessageKind)
    status = _enum(MessageStatus)
    event_type = fields.Str()
    sequence = fields.Int(attribute="seq")
    endpoint_id = fields.Str()
    invitation_id = fields.Str()
    recipient = fields.Str()
    attempts = fields.Int()
    next_attempt_at = fields.DateTime()
    last_error = fields.Str()
    last_status_code = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    delivered_at = fields.DateTime()


class AttemptOut(Schema):
    number = fields.Int()
    at = fields.DateTime()
    succeeded = fields.Bool()
    status_code = fields.Int()
    error = fields.Str()
    duration_ms = fields.Int()
    worker = fields.Str()


class AuditEventOut(Schema):
    id = fields.Int()
    at = fields.DateTime()
    actor_type = _enum(m.ActorType)
    actor_id = fields.Str()
    actor_label = fields.Str()
    action = fields.Str()
    target_type = fields.Str()
    target_id = fields.Str()
    ip = fields.Str()
    request_id = fields.Str()
    details = fields.Dict()


class PlanOut(Schema):
    org_id = fields.Str()
    from_mode = _enum(m.MembershipMode, data_key="from")
    to_mode = _enum(m.MembershipMode, data_key="to")
    allowed = fields.Bool()
    refusal = fields.Str()
    effects = fields.List(fields.Str())
    invitations_to_revoke = fields.List(fields.Str())
    scim_tokens_to_suspend = fields.List(fields.Str())
    scim_tokens_to_restore = fields.List(fields.Str())
    connections_to_suspend = fields.List(fields.Str())
    connections_to_restore = fields.List(fields.Str())
    members_kept = fields.Int()
    warnings = fields.List(fields.Str())


def org(view: OrgView) -> dict[str, Any]:
    return {
        **OrganizationOut().dump(view.org),
        "default_project": ProjectOut().dump(view.default_project),
        "domains": DomainOut(many=True).dump(view.domains),
        "member_count": view.member_count,
    }


def member(value: m.Member) -> dict[str, Any]:
    return MemberOut().dump(value)


def member_detail(view: MemberView) -> dict[str, Any]:
    return {
        **member(view.member),
        "projects": ProjectOut(many=True).dump(view.projects),
        "resources_created": ResourceOut(many=True).dump(view.resources_created),
    }


def removal(result: AccessRevoked, org_mode: m.MembershipMode) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member": member(result.member),
        "revoked": {
            "project_access": result.project_access_revoked,
            "sessions": result.sessions_ended,
            "api_keys": result.api_keys_revoked,
        },
        "resources_kept": result.resources_kept,
        "blocked": result.blocked,
        "note": None,
    }
    if org_mode is m.MembershipMode.SSO and not result.blocked:
        body["note"] = (
            "This organization is in SSO mode: if the identity provider still assigns this person, they are "
            "re-created at their next SSO sign-in. Block the email (block=true) to prevent that."
        )
    elif org_mode is m.MembershipMode.SSO:
        body["note"] = "The email is blocked, so SSO sign-in will not re-create this member."
    return body


def project(value: m.Project) -> dict[str, Any]:
    return ProjectOut().dump(value)


def resource(value: m.Resource) -> dict[str, Any]:
    return ResourceOut().dump(value)


def membership(value: m.ProjectMembership) -> dict[str, Any]:
    return MembershipOut().dump(value)


def blocked_email(value: m.BlockedEmail) -> dict[str, Any]:
    return BlockedEmailOut().dump(value)


def invitation(value: m.Invitation, now: datetime) -> dict[str, Any]:
    """The invitation with its effective status: a pending one past its expiry reads ``expired``."""
    return {**InvitationOut().dump(value), "status": value.status_at(now).value}


def api_key(value: m.ApiKey) -> dict[str, Any]:
    return ApiKeyOut().dump(value)


def scim_token(value: m.ScimToken) -> dict[str, Any]:
    return ScimTokenOut().dump(value)


def connection(value: m.SsoConnection) -> dict[str, Any]:
    return ConnectionOut().dump(value)


def audit_event(value: m.AuditEvent) -> dict[str, Any]:
    return AuditEventOut().dump(value)


def plan(value: ModeSwitchPlan, *, dry_run: bool, applied: bool) -> dict[str, Any]:
    return {**PlanOut().dump(value), "dry_run": dry_run, "applied": applied}


# -- SSO connections in detail ---------------------------------------------------------------------------------
def certificate(cert_b64: str, now: datetime) -> dict[str, Any]:
    """A certificate by its SHA-256 fingerprint, subject and validity (the certificate itself is public, but
    Admins compare fingerprints and watch expiry dates)."""
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    expires = cert.not_valid_after_utc
    return {
        "fingerprint_sha256": cert_fingerprint(cert_b64),
        "subject": cert.subject.rfc4514_string(),
        "not_valid_before": cert.not_valid_before_utc.isoformat(),
        "not_valid_after": expires.isoformat(),
        "expired": expires <= now,
    }


def saml_connection(value: m.SsoConnection, url: UrlFor, now: datetime) -> dict[str, Any]:
    """The connection with what the IT admin enters at the IdP (SP URLs) and what the gateway trusts (IdP
    certificates). SP private keys are never returned, only their certificates' fingerprints."""
    config = SamlConfig.from_dict(value.config)
    base = f"/saml/{value.slug}"
    return {
        **connection(value),
        "sp": {
            "entity_id": url(f"{base}/metadata"),
            "metadata_url": url(f"{base}/metadata"),
            "acs_url": url(f"{base}/acs"),
            "slo_url": url(f"{base}/slo"),
            "login_url": url(f"{base}/login"),
            "certificates": [certificate(k.cert, now) for k in config.sp_keys],
        },
        "idp": {
            "entity_id": config.idp_entity_id,
            "sso_url": config.idp_sso_url,
            "sso_binding": "post" if config.idp_sso_binding == BINDING_POST else "redirect",
            "slo_url": config.idp_slo_url,
            "certificates": [certificate(c, now) for c in config.idp_certs],
        },
        "allow_idp_initiated": config.allow_idp_initiated,
        "want_assertions_encrypted": config.want_assertions_encrypted,
        "nameid_format": config.nameid_format,
        "attributes": dict(config.attributes),
        "admin_groups": list(config.admin_groups),
    }


def oidc_connection(value: m.SsoConnection, url: UrlFor) -> dict[str, Any]:
    """The connection without its client secret (stored encrypted, never returned)."""
    config = value.config or {}
    return {
        **connection(value),
        "issuer": config.get("issuer"),
        "client_id": config.get("client_id"),
        "redirect_uri": url(f"/oidc/{value.slug}/callback"),
        "login_url": url(f"/oidc/{value.slug}/login"),
        "scopes": list(config.get("scopes") or []),
        "claims": dict(config.get("claims") or {}),
        "admin_groups": list(config.get("admin_groups") or []),
    }


def connection_detail(value: m.SsoConnection, url: UrlFor, now: datetime) -> dict[str, Any]:
    config = value.config or {}
    if value.protocol is m.ConnectionProtocol.SAML:
        detail = saml_connection(value, url, now)
        detail["metadata_url"] = config.get("metadata_url")
        detail["metadata_refresh"] = config.get("metadata_refresh")
    else:
        detail = oidc_connection(value, url)
        detail["secret_rotated_at"] = config.get("client_secret_rotated_at")
        detail["previous_secret_kept"] = bool(config.get("previous_client_secret"))
    detail["domains"] = [str(d) for d in config.get("domains") or []]
    return detail


def deletion_preview(value: DeletionPreview, *, deleted: bool) -> dict[str, Any]:
    return {
        "connection": connection(value.connection),
        "deleted": deleted,
        "sessions_ended": value.sessions_ended,
        "members_kept": value.members_kept,
        "last_enabled_connection": value.last_usable,
        "effects": list(value.effects),
    }


def metadata_refresh(value: MetadataRefresh) -> dict[str, Any]:
    return {**value.as_dict(), "changed": value.changed}


# -- events and webhooks ---------------------------------------------------------------------------------------
def event(value: OutboxEvent) -> dict[str, Any]:
    """The event exactly as webhooks deliver it (``id, type, timestamp, sequence, organization, data``)."""
    return dict(value.payload)


def webhook(value: WebhookEndpoint) -> dict[str, Any]:
    return WebhookEndpointOut().dump(value)


def delivery(value: OutboxMessage) -> dict[str, Any]:
    return DeliveryOut().dump(value)


def delivery_log(value: OutboxMessage, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {**delivery(value), "attempt_log": AttemptOut(many=True).dump(attempts)}


def credit_entry(value: m.CreditEntry) -> dict[str, Any]:
    return CreditEntryOut().dump(value)


def bill(value: Bill) -> dict[str, Any]:
    return {
        "balance": value.balance,
        "purchased": value.purchased,
        "used": value.used,
        "since": value.since.isoformat() if value.since else None,
        "until": value.until.isoformat() if value.until else None,
        "by_project": [
            {"project_id": u.project_id, "project_name": u.project_name, "credits": u.credits}
            for u in value.by_project
        ],
        "by_member": [
            {"member_id": u.member_id, "email": u.email, "credits": u.credits} for u in value.by_member
        ],
    }


def domain_claim(view: DomainView) -> dict[str, Any]:
    """A claim with what proves it: publish ``record_value`` as a TXT record at ``record_name``."""
    claim = view.domain
    return {
        "id": claim.id,
        "domain": claim.domain,
        "status": view.status.value,
        "verified": claim.verified,
        "verified_via": claim.verified_via,
        "verified_at": claim.verified_at.isoformat() if claim.verified_at else None,
        "expires_at": claim.expires_at.isoformat() if claim.expires_at and not claim.verified else None,
        "created_at": claim.created_at.isoformat(),
        "dns": {"type": "TXT", "name": view.record_name, "value": view.record_value}
        if view.record_value
        else None,
        "last_check": {"at": claim.checked_at.isoformat(), "error": claim.check_error}
        if claim.checked_at
        else None,
    }


def account_elsewhere(member: m.Member) -> dict[str, Any]:
    """An account another organization holds in one of the caller's verified domains (a migration candidate);
    which organization holds it is not shown."""
    return {"email": member.email, "status": member.status.value, "since": member.created_at.isoformat()}
