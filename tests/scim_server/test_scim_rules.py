"""The pure provisioning rules in ``gateway.domain.groups``: which address becomes the member's email and
which role provisioning gives."""

from __future__ import annotations

from gateway.domain.groups import (
    email_from_identity,
    is_placeholder_email,
    placeholder_email,
    resolve_role,
    role_claim,
)
from gateway.domain.model import Role


def test_email_rule_order() -> None:
    work = {"value": "w@acme.example", "type": "work"}
    home = {"value": "h@home.example", "type": "home"}
    primary = {"value": "p@acme.example", "type": "other", "primary": True}
    assert email_from_identity([home, work, primary], "upn@acme.example") == "p@acme.example"
    assert email_from_identity([home, work], "upn@acme.example") == "w@acme.example"
    assert email_from_identity([home], "upn@acme.example") == "h@home.example"
    assert email_from_identity([], "upn@acme.example") == "upn@acme.example"
    assert email_from_identity([{"value": "not an address"}], "jdoe") is None
    assert is_placeholder_email(placeholder_email("abc")) and not is_placeholder_email("a@b.example")


def test_roles() -> None:
    assert role_claim(["Member", "ADMIN"]) is Role.ADMIN
    assert role_claim(["Engineer"]) is Role.MEMBER
    assert resolve_role(None, [], Role.ADMIN) is Role.ADMIN  # no opinion: unchanged
    assert resolve_role(Role.MEMBER, [], Role.ADMIN) is Role.MEMBER
    assert resolve_role(Role.MEMBER, [Role.ADMIN], Role.MEMBER) is Role.ADMIN
    assert resolve_role(None, [Role.MEMBER], Role.ADMIN) is Role.MEMBER
