"""The member, block and domain claim a sign-in or a SCIM create decides on, read as one plain row
(``Store.member_block_and_domain``): the member comes back held by the transaction's session as an ORM query would
hold it (the session's own copy if it has one; else attached, so a change to it is written), the claim as a
``Domain`` with its values."""

from __future__ import annotations

from gateway.domain import model as m
from gateway.wiring import Services

from .conftest import Org


def test_a_member_read_as_a_row_is_attached_and_its_changes_are_written(
    services: Services, globex: Org
) -> None:
    with services.db.transaction() as tx:
        member, blocked, claim = tx.member_block_and_domain(globex.id, globex.admin.email, "globex.test")
        assert member is not None and member.id == globex.admin.id and member.role is m.Role.ADMIN
        assert blocked is False
        assert (
            claim is not None
            and claim.org_id == globex.id
            and claim.verified
            and claim.domain == "globex.test"
        )
        member.display_name = "Renamed In The Same Transaction"
    assert (
        services.members.get(globex.id, globex.admin.id).member.display_name
        == "Renamed In The Same Transaction"
    )


def test_the_sessions_own_copy_comes_back(services: Services, globex: Org) -> None:
    with services.db.transaction() as tx:
        held = tx.get(m.Member, globex.id, globex.admin.id)
        member, _, _ = tx.member_block_and_domain(globex.id, globex.admin.email, "globex.test")
        assert member is held


def test_no_member_no_claim_and_a_block(services: Services, globex: Org) -> None:
    services.members.block_email(globex.id, "gone@globex.test", globex.by_admin)
    with services.db.transaction() as tx:
        member, blocked, claim = tx.member_block_and_domain(globex.id, "gone@globex.test", "elsewhere.test")
    assert member is None and blocked is True and claim is None
