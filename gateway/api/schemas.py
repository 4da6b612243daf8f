"""Input schemas: what each endpoint accepts in its JSON body or query string (marshmallow ``load``).

Bodies refuse unknown fields (marshmallow's default ``RAISE``); query strings ignore parameters they do not
know. Domain rules (address syntax, name lengths, the mode policy) are enforced again by the services.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gateway.api.paging import PageQuery
from gateway.domain import model as m

_NAME = validate.Length(min=1, max=200)
_ID = validate.Length(min=1, max=64)


def _enum(enum: type, **kwargs: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, **kwargs)  # type: ignore[arg-type]


class OrgPatch(Schema):
    multi_project = fields.Bool(required=True)


class ModeBody(Schema):
    mode = _enum(m.MembershipMode, required=True)


class MemberQuery(PageQuery):
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


class InvitationQuery(PageQuery):
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


class ResourceQuery(PageQuery):
    created_by = fields.Str(validate=_ID)


class AuditQuery(PageQuery):
    actor_type = _enum(m.ActorType)
    actor_id = fields.Str(validate=validate.Length(min=1, max=200))
    action = fields.Str(validate=validate.Length(min=1, max=100))
    target_id = fields.Str(validate=validate.Length(min=1, max=200))
