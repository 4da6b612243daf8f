"""The membership rules of DESIGN.md as pure functions: plain values in, a decision or a typed error out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from gateway.domain import model as m
from gateway.domain.errors import (
    Deprovisioned,
    EmailBlocked,
    InvalidInput,
    InvitationEmailMismatch,
    InvitationExpired,
    InvitationInvalid,
    InvitationRevoked,
    InvitationUsed,
    LastAdmin,
    MemberInactive,
    ModeForbids,
)
from gateway.domain.policy import (
    JitOutcome,
    ModeSwitchPlan,
    check_invitation_acceptable,
    decide_sso_sign_in,
    email_domain,
    ensure_keeps_an_admin,
    mode_from_value,
    normalize_email,
    plan_mode_switch,
    require_mode_allows,
    role_from_value,
    slugify,
)

from .factories import NOW, connection, invitation, member, org, scim_token

SSO = m.MembershipMode.SSO
INVITATION = m.MembershipMode.INVITATION


# -- email normalization ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@acme.test", "ada@acme.test"),
        ("  Ada.Lovelace@ACME.Test \n", "ada.lovelace@acme.test"),
        ("\tADA+ml@Sub.Acme.TEST", "ada+ml@sub.acme.test"),
    ],
)
def test_normalize_email_trims_and_lowercases(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@acme.test",
        "ada@acme",
        "ada@@acme.test",
        "a da@acme.test",
        "ada@acme .test",
    ],
)
def test_normalize_email_refuses_what_is_not_an_address(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_email(raw)
    assert error.value.details == {"field": "email"}


@pytest.mark.parametrize(
    "raw",
    ["ada\x00@acme.test", "ada@acme.test\x00x", "ada\ud800@acme.test", "ad\u202ea@acme.test", "ada\u200b@acme.test",
     "ada\x1b[31m@acme.test", "ada@acme\x7f.test"],
    ids=["nul", "nul-domain", "surrogate", "rtl-override", "zero-width-space", "escape", "delete"],
)  # fmt: skip
def test_normalize_email_refuses_control_format_and_surrogate_characters(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_email(raw)


def test_normalize_email_keeps_international_addresses() -> None:
    assert normalize_email("José@Exämple.test") == "josé@exämple.test"


def test_normalize_email_refuses_none_and_overlong_addresses() -> None:
    with pytest.raises(InvalidInput):
        normalize_email(None)  # type: ignore[arg-type]
    local = "a" * 64
    longest = f"{local}@{'b' * 252}.io"
    assert len(longest) == 320
    assert normalize_email(longest) == longest
    with pytest.raises(InvalidInput):
        normalize_email(f"{local}@{'b' * 253}.io")


def test_email_domain_is_the_normalized_domain() -> None:
    assert email_domain(" Ada@Sub.ACME.test ") == "sub.acme.test"
    with pytest.raises(InvalidInput):
        email_domain("not-an-address")


# -- slugs, roles and modes from text ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Corp", "acme-corp"),
        ("  ACME -- Research & Dev!  ", "acme-research-dev"),
        ("Zürich 42", "z-rich-42"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["", "   ", "!!!", "---", "日本"])
def test_slugify_refuses_names_without_letters_or_digits(name: str) -> None:
    with pytest.raises(InvalidInput):
        slugify(name)


def test_slugify_caps_length_at_63_without_a_trailing_hyphen() -> None:
    assert slugify("x" * 100) == "x" * 63
    slug = slugify("a" * 62 + " b")
    assert len(slug) <= 63
    assert not slug.endswith("-")


@pytest.mark.parametrize(
    ("raw", "role"), [("admin", m.Role.ADMIN), (" Member ", m.Role.MEMBER), ("ADMIN", m.Role.ADMIN)]
)
def test_role_from_value(raw: str, role: m.Role) -> None:
    assert role_from_value(raw) is role


@pytest.mark.parametrize(("raw", "mode"), [("sso", SSO), (" Invitation ", INVITATION), ("SSO", SSO)])
def test_mode_from_value(raw: str, mode: m.MembershipMode) -> None:
    assert mode_from_value(raw) is mode


def test_unknown_role_and_mode_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'owner'") as role_error:
        role_from_value("owner")
    assert role_error.value.details == {"field": "role"}
    with pytest.raises(InvalidInput, match="'both'") as mode_error:
        mode_from_value("both")
    assert mode_error.value.details == {"field": "mode"}


# -- rule 1: mode exclusivity per join path --------------------------------------------------------------
ALLOWED = {
    (SSO, m.JoinPath.SCIM),
    (SSO, m.JoinPath.JIT),
    (SSO, m.JoinPath.ADMIN),
    (INVITATION, m.JoinPath.INVITATION),
    (INVITATION, m.JoinPath.ADMIN),
    # A migration is allowed in both modes under its own rules (gateway.domain.migration, tests/domain/test_migration.py).
    (SSO, m.JoinPath.MIGRATION),
    (INVITATION, m.JoinPath.MIGRATION),
}


@pytest.mark.parametrize("mode", list(m.MembershipMode))
@pytest.mark.parametrize("path", list(m.JoinPath))
def test_mode_exclusivity_per_join_path(mode: m.MembershipMode, path: m.JoinPath) -> None:
    organization = org(mode)
    if (mode, path) in ALLOWED:
        require_mode_allows(organization, path)
        return
    with pytest.raises(ModeForbids) as error:
        require_mode_allows(organization, path)
    assert error.value.details == {"mode": mode.value, "path": path.value}
    assert error.value.code == "mode_forbids"
    assert mode.value in error.value.message.lower()


def test_mode_refusals_say_what_to_do() -> None:
    with pytest.raises(ModeForbids, match="invitations cannot be created, resent or accepted"):
        require_mode_allows(org(SSO), m.JoinPath.INVITATION)
    with pytest.raises(ModeForbids, match="switch the organization to SSO mode"):
        require_mode_allows(org(INVITATION), m.JoinPath.SCIM)
    with pytest.raises(ModeForbids, match="platform login provider"):
        require_mode_allows(org(INVITATION), m.JoinPath.JIT)


# -- rule 3: invitations ---------------------------------------------------------------------------------
def test_a_pending_invitation_is_acceptable_until_just_before_7_days() -> None:
    check_invitation_acceptable(org(), invitation(), "ada@acme.test", NOW)
    last_moment = NOW + timedelta(days=7) - timedelta(microseconds=1)
    check_invitation_acceptable(org(), invitation(), "ada@acme.test", last_moment)


def test_an_invitation_expires_exactly_7_days_after_it_was_sent() -> None:
    with pytest.raises(InvitationExpired, match="7 days"):
        check_invitation_acceptable(org(), invitation(), "ada@acme.test", NOW + timedelta(days=7))
    with pytest.raises(InvitationExpired):
        check_invitation_acceptable(org(), invitation(), "ada@acme.test", NOW + timedelta(days=30))


def test_an_invitation_is_single_use() -> None:
    used = invitation(status=m.InvitationStatus.ACCEPTED)
    with pytest.raises(InvitationUsed):
        check_invitation_acceptable(org(), used, "ada@acme.test", NOW)


def test_a_revoked_invitation_is_refused_even_before_expiry() -> None:
    revoked = invitation(status=m.InvitationStatus.REVOKED)
    with pytest.raises(InvitationRevoked, match="revoked"):
        check_invitation_acceptable(org(), revoked, "ada@acme.test", NOW)


def test_used_or_revoked_wins_over_expired() -> None:
    later = NOW + timedelta(days=8)
    with pytest.raises(InvitationUsed):
        check_invitation_acceptable(
            org(), invitation(status=m.InvitationStatus.ACCEPTED), "ada@acme.test", later
        )
    with pytest.raises(InvitationRevoked):
        check_invitation_acceptable(
            org(), invitation(status=m.InvitationStatus.REVOKED), "ada@acme.test", later
        )


def test_an_invitation_only_accepts_the_invited_verified_email() -> None:
    with pytest.raises(InvitationEmailMismatch) as error:
        check_invitation_acceptable(org(), invitation(), "eve@acme.test", NOW)
    assert error.value.details == {"invited": "a***@acme.test"}
    assert "ada@acme.test" not in error.value.message


@pytest.mark.parametrize("verified", ["ADA@ACME.TEST", "  ada@acme.test  ", "Ada@Acme.Test\n"])
def test_invited_email_comparison_normalizes_case_and_whitespace(verified: str) -> None:
    check_invitation_acceptable(org(), invitation(), verified, NOW)


def test_a_malformed_verified_email_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        check_invitation_acceptable(org(), invitation(), "not an email", NOW)


def test_accepting_in_sso_mode_is_refused_even_for_a_link_sent_before_the_switch() -> None:
    with pytest.raises(ModeForbids):
        check_invitation_acceptable(org(SSO), invitation(), "ada@acme.test", NOW)


def test_the_mode_is_checked_before_the_invitation_itself() -> None:
    with pytest.raises(ModeForbids):
        check_invitation_acceptable(
            org(SSO), invitation(status=m.InvitationStatus.ACCEPTED), "eve@x.test", NOW
        )


def test_invitation_errors_share_one_family() -> None:
    for cls in (InvitationExpired, InvitationRevoked, InvitationUsed, InvitationEmailMismatch):
        assert issubclass(cls, InvitationInvalid)


# -- rule 7: the last Admin ------------------------------------------------------------------------------
def test_the_last_active_admin_cannot_be_lost() -> None:
    admin = member(role=m.Role.ADMIN)
    with pytest.raises(LastAdmin) as error:
        ensure_keeps_an_admin(admin, active_admins=1, override=False)
    assert error.value.details == {"member_id": admin.id}
    assert "override" in error.value.message


def test_the_last_admin_check_can_be_overridden_explicitly() -> None:
    ensure_keeps_an_admin(member(role=m.Role.ADMIN), active_admins=1, override=True)


def test_an_admin_with_another_active_admin_may_go() -> None:
    ensure_keeps_an_admin(member(role=m.Role.ADMIN), active_admins=2, override=False)


@pytest.mark.parametrize(
    "who",
    [
        member(role=m.Role.MEMBER),
        member(role=m.Role.ADMIN, status=m.MemberStatus.SUSPENDED),
        member(role=m.Role.ADMIN, status=m.MemberStatus.REMOVED, removed_by=m.RemovalSource.ADMIN),
    ],
    ids=["member", "suspended-admin", "removed-admin"],
)
def test_losing_someone_who_is_not_an_active_admin_never_loses_an_admin(who: m.Member) -> None:
    ensure_keeps_an_admin(who, active_admins=1, override=False)
    ensure_keeps_an_admin(who, active_admins=0, override=False)


# -- rules 1 and 6: SSO sign-in --------------------------------------------------------------------------
def sign_in(
    existing: m.Member | None, *, mode: m.MembershipMode = SSO, blocked: bool = False, verified: bool = True
) -> JitOutcome:
    return decide_sso_sign_in(org(mode), existing, blocked=blocked, domain_verified=verified)


def test_an_active_member_signs_in() -> None:
    assert sign_in(member()) is JitOutcome.SIGN_IN


def test_an_active_member_signs_in_even_outside_the_verified_domains() -> None:
    assert sign_in(member(), verified=False) is JitOutcome.SIGN_IN


def test_a_newcomer_from_a_verified_domain_is_created_just_in_time() -> None:
    assert sign_in(None) is JitOutcome.CREATE


def test_a_member_removed_by_an_admin_comes_back_at_the_next_sign_in() -> None:
    removed = member(status=m.MemberStatus.REMOVED, removed_by=m.RemovalSource.ADMIN)
    assert sign_in(removed) is JitOutcome.RESTORE


def test_a_suspended_member_is_refused() -> None:
    with pytest.raises(MemberInactive, match="suspended"):
        sign_in(member(status=m.MemberStatus.SUSPENDED))


def test_a_member_deprovisioned_over_scim_is_not_recreated() -> None:
    removed = member(status=m.MemberStatus.REMOVED, removed_by=m.RemovalSource.SCIM)
    with pytest.raises(Deprovisioned):
        sign_in(removed)
    with pytest.raises(Deprovisioned):
        sign_in(removed, blocked=True)


def test_a_blocked_email_is_not_created_nor_restored() -> None:
    with pytest.raises(EmailBlocked):
        sign_in(None, blocked=True)
    with pytest.raises(EmailBlocked):
        sign_in(member(status=m.MemberStatus.REMOVED, removed_by=m.RemovalSource.ADMIN), blocked=True)


def test_an_unverified_domain_cannot_join_by_sso() -> None:
    with pytest.raises(ModeForbids, match="not verified"):
        sign_in(None, verified=False)
    with pytest.raises(ModeForbids, match="not verified"):
        sign_in(member(status=m.MemberStatus.REMOVED, removed_by=m.RemovalSource.ADMIN), verified=False)


@pytest.mark.parametrize("existing", [None, member()], ids=["newcomer", "member"])
def test_sso_sign_in_is_refused_in_invitation_mode(existing: m.Member | None) -> None:
    with pytest.raises(ModeForbids) as error:
        sign_in(existing, mode=INVITATION)
    assert error.value.details["path"] == "jit"


# -- rule 2: switching mode ------------------------------------------------------------------------------
def plan(
    mode: m.MembershipMode,
    target: m.MembershipMode,
    *,
    connections: Sequence[m.SsoConnection] = (),
    tokens: Sequence[m.ScimToken] = (),
    invitations: Sequence[m.Invitation] = (),
    members_kept: int = 3,
) -> ModeSwitchPlan:
    return plan_mode_switch(
        org(mode), target, connections=connections, scim_tokens=tokens, pending_invitations=invitations,
        members_kept=members_kept,
    )  # fmt: skip


def test_switching_to_sso_is_refused_without_any_connection() -> None:
    result = plan(INVITATION, SSO, invitations=[invitation()])
    assert not result.allowed
    assert "no enabled SSO connection" in (result.refusal or "")
    assert result.effects == []
    assert result.invitations_to_revoke == []


def test_switching_to_sso_is_refused_when_every_connection_is_disabled() -> None:
    result = plan(INVITATION, SSO, connections=[connection(enabled=False, suspended=True)])
    assert not result.allowed


def test_switching_to_sso_revokes_pending_invitations_and_restores_what_invitation_mode_suspended() -> None:
    pending = [invitation("a@acme.test"), invitation("b@acme.test")]
    suspended_conn, disabled_conn = connection(suspended=True), connection(enabled=False, suspended=True)
    live_conn = connection()
    suspended_token = scim_token(suspended=True)
    revoked_token = scim_token(suspended=True, revoked_at=NOW)
    result = plan(
        INVITATION,
        SSO,
        connections=[suspended_conn, disabled_conn, live_conn],
        tokens=[suspended_token, revoked_token],
        invitations=pending,
    )
    assert result.allowed
    assert result.from_mode is INVITATION and result.to_mode is SSO
    assert result.invitations_to_revoke == [i.id for i in pending]
    assert result.connections_to_restore == [suspended_conn.id, disabled_conn.id]
    assert result.scim_tokens_to_restore == [suspended_token.id]
    assert result.connections_to_suspend == [] and result.scim_tokens_to_suspend == []
    assert result.effects == [
        "Membership mode changes from invitation to sso.",
        "2 pending invitation(s) will be revoked.",
        "2 SSO connection(s) will be re-enabled.",
        "1 SCIM token(s) will be re-enabled.",
        "3 existing member(s) stay and are linked to their identity-provider identity by verified email "
        "at their first SCIM push or SSO sign-in.",
    ]


def test_switching_to_invitation_suspends_tokens_and_connections_and_keeps_members() -> None:
    live_conn, disabled_conn = connection(), connection(enabled=False)
    usable, revoked = scim_token(), scim_token(revoked_at=NOW)
    result = plan(
        SSO, INVITATION, connections=[live_conn, disabled_conn], tokens=[usable, revoked], members_kept=7
    )
    assert result.allowed
    assert result.connections_to_suspend == [live_conn.id, disabled_conn.id]
    assert result.scim_tokens_to_suspend == [usable.id]
    assert result.invitations_to_revoke == []
    assert result.connections_to_restore == [] and result.scim_tokens_to_restore == []
    assert result.effects == [
        "Membership mode changes from sso to invitation.",
        "1 SCIM token(s) will be disabled (kept).",
        "2 SSO connection(s) will be disabled (kept).",
        "7 existing member(s) stay and sign in through the platform login provider.",
    ]


def test_switching_to_invitation_needs_no_connection() -> None:
    assert plan(SSO, INVITATION).allowed


@pytest.mark.parametrize("mode", list(m.MembershipMode))
def test_switching_to_the_current_mode_changes_nothing(mode: m.MembershipMode) -> None:
    result = plan(
        mode,
        mode,
        connections=[connection(suspended=True)],
        tokens=[scim_token()],
        invitations=[invitation()],
    )
    assert result.allowed
    assert result.effects == ["Nothing changes: the organization is already in this mode."]
    assert not (
        result.invitations_to_revoke
        or result.connections_to_restore
        or result.connections_to_suspend
        or result.scim_tokens_to_restore
        or result.scim_tokens_to_suspend
    )
