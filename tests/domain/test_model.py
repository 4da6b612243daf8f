"""Entity behaviour that depends only on the values passed in (time included)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain import errors
from gateway.domain import model as m

from .factories import NOW, connection, invitation, member, scim_token, session


def test_invitations_live_for_7_days() -> None:
    assert timedelta(days=7) == m.INVITATION_LIFETIME
    assert invitation().expires_at == NOW + timedelta(days=7)


def test_a_pending_invitation_reports_expired_from_its_expiry_on() -> None:
    pending = invitation()
    assert pending.status_at(NOW) is m.InvitationStatus.PENDING
    assert pending.status_at(pending.expires_at - timedelta(microseconds=1)) is m.InvitationStatus.PENDING
    assert pending.status_at(pending.expires_at) is m.InvitationStatus.EXPIRED
    assert pending.status_at(pending.expires_at + timedelta(days=1)) is m.InvitationStatus.EXPIRED
    assert pending.status is m.InvitationStatus.PENDING


@pytest.mark.parametrize("status", [m.InvitationStatus.ACCEPTED, m.InvitationStatus.REVOKED])
def test_a_settled_invitation_keeps_its_status_after_expiry(status: m.InvitationStatus) -> None:
    settled = invitation(status=status)
    assert settled.status_at(NOW + timedelta(days=30)) is status


@pytest.mark.parametrize(
    ("role", "status", "active", "admin"),
    [
        (m.Role.ADMIN, m.MemberStatus.ACTIVE, True, True),
        (m.Role.ADMIN, m.MemberStatus.SUSPENDED, False, False),
        (m.Role.ADMIN, m.MemberStatus.REMOVED, False, False),
        (m.Role.MEMBER, m.MemberStatus.ACTIVE, True, False),
    ],
)
def test_only_an_active_admin_counts_as_admin(
    role: m.Role, status: m.MemberStatus, active: bool, admin: bool
) -> None:
    who = member(role=role, status=status)
    assert who.is_active is active
    assert who.is_admin is admin


def test_scim_tokens_are_usable_unless_revoked_or_suspended() -> None:
    assert scim_token().is_usable
    assert not scim_token(suspended=True).is_usable
    assert not scim_token(revoked_at=NOW).is_usable


def test_connections_are_usable_only_when_enabled_and_not_suspended() -> None:
    assert connection().is_usable
    assert not connection(suspended=True).is_usable
    assert not connection(enabled=False).is_usable


def test_api_keys_are_active_until_revoked() -> None:
    key = m.ApiKey("k", "org-x", m.ApiKeyKind.ADMIN, "gwa_abcd", "h" * 64, "ci", NOW)
    assert key.is_active
    key.revoked_at = NOW
    assert not key.is_active


def test_a_session_is_valid_until_idle_or_absolute_timeout_or_revocation() -> None:
    idle = timedelta(hours=8)
    web = session(lifetime=timedelta(hours=24))
    assert web.is_valid_at(NOW, idle)
    assert web.is_valid_at(NOW + idle - timedelta(seconds=1), idle)
    assert not web.is_valid_at(NOW + idle, idle)
    web.last_seen_at = NOW + timedelta(hours=20)
    assert web.is_valid_at(NOW + timedelta(hours=23), idle)
    assert not web.is_valid_at(NOW + timedelta(hours=24), idle)
    web.revoked_at = NOW + timedelta(hours=21)
    assert not web.is_valid_at(NOW + timedelta(hours=21), idle)


def test_actor_shortcuts() -> None:
    assert m.Actor.cli() == m.Actor(m.ActorType.CLI, label="gateway CLI")
    assert m.Actor.system().type is m.ActorType.SYSTEM


def test_error_codes_are_stable_and_distinct() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.DomainError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    assert errors.EmailTaken.code == "email_taken"
    assert errors.ModeForbids.code == "mode_forbids"
    assert errors.LastAdmin.code == "last_admin"
    assert errors.NotFound.code == "not_found"
    assert issubclass(errors.EmailTaken, errors.Conflict)
    assert issubclass(errors.AccountInOtherOrganization, errors.Conflict)


def test_domain_errors_carry_message_and_details() -> None:
    error = errors.InvalidInput("bad email", field="email")
    assert str(error) == error.message == "bad email"
    assert error.details == {"field": "email"}
