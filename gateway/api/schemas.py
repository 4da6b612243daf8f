"""Input schemas: what each endpoint accepts in its JSON body or query string (marshmallow ``load``).

Bodies refuse unknown fields (marshmallow's default ``RAISE``); query strings ignore parameters they do not
know. Domain rules (address syntax, name lengths, the mode policy) are enforced again by the services.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.api.paging import KeysetPageQuery, PageQuery
from gateway.domain import model as m
from gateway.domain.policy import MAX_CREDITS_PER_ENTRY
from gateway.outbox.events import EVENT_TYPES
from gateway.services.saml_connections import METADATA_MAX_BYTES
from gateway.services.webhooks import MAX_EVENTS_PAGE
from gateway.storage.outbox_tables import MessageKind, MessageStatus

_NAME = validate.Length(min=1, max=200)
_ID = validate.Length(min=1, max=64)
_SLUG = validate.Length(min=1, max=100)
_URL = validate.Length(min=1, max=2048)
_PEM = validate.Length(min=1, max=20_000)


def _enum(enum: type, **kwargs: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kwargs)  # type: ignore[arg-type]


class OrgPatch(Schema):
    multi_project = fields.Bool(required=True)


class ModeBody(Schema):
    mode = _enum(m.MembershipMode, required=True)


class MemberQuery(KeysetPageQuery):
    q = fields.Str(validate=validate.Length(min=1, max=200))
    status = _enum(m.MemberStatus)
    role = _enum(m.Role)


class MemberPatch(Schema):
    role = _enum(m.Role, required=True)
    override_last_admin = fields.Bool(load_default=False)


class OverrideQuery(Schema):
    override_last_admin = fields.Bool(load_default=False)


class RemovalQuery(OverrideQuery):
    block = fields.Bool(load_default=False)


class EmailBody(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class InvitationBody(EmailBody):
    role = _enum(m.Role, load_default=m.Role.MEMBER)


class InvitationQuery(KeysetPageQuery):
    status = _enum(m.InvitationStatus)


class AcceptBody(Schema):
    token = fields.Str(required=True, validate=validate.Length(min=1, max=512))


class NameBody(Schema):
    name = fields.Str(required=True, validate=_NAME)


class OptionalNameBody(Schema):
    name = fields.Str(validate=_NAME)


class ProjectKeyBody(OptionalNameBody):
    member_id = fields.Str(validate=_ID)


class ResourceBody(Schema):
    kind = _enum(m.ResourceKind, required=True)
    name = fields.Str(required=True, validate=_NAME)
    created_by = fields.Str(validate=_ID)


class CreditsBody(Schema):
    """Credits bought or used. ``member_id`` names the member when the caller is an admin API key (no member)."""

    credits = fields.Int(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_CREDITS_PER_ENTRY)
    )
    description = fields.Str(load_default="", validate=validate.Length(max=200))
    member_id = fields.Str(validate=_ID)


class BillingQuery(Schema):
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class CreditEntryQuery(BillingQuery, PageQuery):
    pass


class ResourceQuery(PageQuery):
    created_by = fields.Str(validate=_ID)


class AuditQuery(KeysetPageQuery):
    actor_type = _enum(m.ActorType)
    actor_id = fields.Str(validate=validate.Length(min=1, max=200))
    action = fields.Str(validate=validate.Length(min=1, max=100))
    target_id = fields.Str(validate=validate.Length(min=1, max=200))


# -- SSO connections -------------------------------------------------------------------------------------------
def _strings(item: validate.Validator, most: int, **kwargs: object) -> fields.List:
    return fields.List(fields.Str(validate=item), validate=validate.Length(max=most), **kwargs)  # type: ignore[arg-type]


class SamlIdpBody(Schema):
    """The identity provider, from exactly one source: metadata XML, a metadata URL, or typed in by hand
    (``entity_id``, ``sso_url``, ``certificates``). With metadata, ``entity_id`` picks one IdP out of
    aggregate metadata."""

    metadata_xml = fields.Str(validate=validate.Length(min=1, max=METADATA_MAX_BYTES))
    metadata_url = fields.Str(validate=_URL)
    entity_id = fields.Str(validate=validate.Length(min=1, max=1024))
    sso_url = fields.Str(validate=_URL)
    sso_binding = fields.Str(validate=validate.OneOf(["redirect", "post"]), load_default="redirect")
    slo_url = fields.Str(validate=_URL)
    certificates = fields.List(fields.Str(validate=_PEM), validate=validate.Length(min=1, max=10))

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        sources = [k for k in ("metadata_xml", "metadata_url") if k in data]
        manual = [k for k in ("sso_url", "slo_url", "certificates") if k in data]
        if len(sources) > 1:
            raise ValidationError("Give metadata_xml or metadata_url, not both.", "metadata_url")
        if sources and manual:
            raise ValidationError(
                "Give the IdP's metadata or type it in (entity_id, sso_url, certificates), not both.",
                manual[0],
            )
        if not sources:
            missing = {
                k: ["Missing data for required field."]
                for k in ("entity_id", "sso_url", "certificates")
                if k not in data
            }
            if missing:
                missing["metadata_xml"] = [
                    "Give metadata_xml, metadata_url, or entity_id/sso_url/certificates."
                ]
                raise ValidationError(missing)


class SamlConnectionBody(SamlIdpBody):
    name = fields.Str(validate=_NAME)
    slug = fields.Str(validate=_SLUG)
    preset = fields.Str(validate=validate.Length(min=1, max=50))
    domains = _strings(validate.Length(min=1, max=253), 50, load_default=list)
    allow_idp_initiated = fields.Bool(load_default=False)
    encrypt_assertions = fields.Bool(load_default=False)
    admin_groups = _strings(validate.Length(min=1, max=200), 100, load_default=list)


class ConnectionPatch(Schema):
    """What an Admin edits on a connection; absent fields stay as they are. ``attributes`` maps the gateway's
    fields (SAML: email, first_name, last_name, groups; OIDC: email, given_name, family_name, groups) to the
    IdP's attribute or claim names; ``metadata_url`` (SAML, ``null`` to forget it) is where refreshes fetch."""

    name = fields.Str(validate=_NAME)
    domains = _strings(validate.Length(min=1, max=253), 50)
    admin_groups = _strings(validate.Length(min=1, max=200), 100)
    attributes = fields.Dict(
        keys=fields.Str(validate=validate.Length(min=1, max=50)),
        values=fields.Str(validate=validate.Length(max=500)),
        validate=validate.Length(max=10),
    )
    allow_idp_initiated = fields.Bool()
    metadata_url = fields.Str(validate=_URL, allow_none=True)


class ConnectionOverrideQuery(Schema):
    """``override=true`` confirms taking the last enabled connection of an SSO-mode organization away."""

    override = fields.Bool(load_default=False)


class ClientSecretBody(Schema):
    client_secret = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=2000))


class CertificateBody(Schema):
    certificate = fields.Str(required=True, validate=_PEM)


class OidcConnectionBody(Schema):
    issuer = fields.Str(required=True, validate=_URL)
    client_id = fields.Str(required=True, validate=validate.Length(min=1, max=500))
    client_secret = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=2000))
    name = fields.Str(validate=_NAME)
    slug = fields.Str(validate=_SLUG)
    preset = fields.Str(validate=validate.Length(min=1, max=50))
    domains = _strings(validate.Length(min=1, max=253), 50, load_default=list)
    admin_groups = _strings(validate.Length(min=1, max=200), 100, load_default=list)


# -- events and webhooks ---------------------------------------------------------------------------------------
class EventQuery(Schema):
    after = fields.Int(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS_PAGE))
    type = fields.List(fields.Str(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(max=50))


class WebhookBody(Schema):
    url = fields.Str(required=True, validate=_URL)
    event_types = _strings(validate.Length(min=1, max=64), 100)
    description = fields.Str(validate=validate.Length(max=200))


class WebhookPatch(Schema):
    url = fields.Str(validate=_URL)
    event_types = _strings(validate.Length(min=1, max=64), 100)
    description = fields.Str(validate=validate.Length(max=200))
    enabled = fields.Bool()


class DeliveryQuery(PageQuery):
    status = _enum(MessageStatus)
    kind = _enum(MessageKind)
    endpoint_id = fields.Str(validate=_ID)


class ReplayDeadBody(Schema):
    endpoint_id = fields.Str(validate=_ID)


# -- domains -----------------------------------------------------------------------------------------------
class DomainBody(Schema):
    domain = fields.Str(required=True, validate=validate.Length(min=1, max=253))
