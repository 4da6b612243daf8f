"""The member, block and domain claim a sign-in or a SCIM create decides on, read as one plain row
(``Store.member_block_and_domain``): the member comes back held by the transaction's session as an ORM query would
hold it (the session's own copy if it has one; else attached, so a change to it is written), the claim as a
``Domain`` with its values. Likewise the member of a SCIM ``userName eq`` lookup (``ScimStore.users_with_groups``):
held by the session in a writer, built outside it in a reader."""

from __future__ import annotations

from gateway.domain import groups as g
from gateway.domain import model as m
from gateway.storage.scim_store import ScimStore
from gateway.storage.store import Store
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


def _lookup(tx: Store, org: Org, user_name: str) -> list[tuple[m.Member, list[tuple[str, str]]]]:
    query = g.Query(filter=g.Compare(g.AttrPath("userName"), "eq", user_name))
    found, total = ScimStore(tx).users_with_groups(org.id, query)
    assert total == len(found)
    return found


def _name_admin(services: Services, org: Org, user_name: str) -> None:
    with services.db.transaction() as tx:
        admin = tx.get(m.Member, org.id, org.admin.id)
        assert admin is not None
        admin.user_name = user_name


def test_a_user_name_lookup_in_a_reader_builds_the_member_outside_the_session(
    services: Services, globex: Org
) -> None:
    _name_admin(services, globex, "Grace.Admin")
    with services.db.transaction(write=False) as tx:
        [(member, groups)] = _lookup(tx, globex, "grace.ADMIN")
        assert member not in tx.session
        assert member.id == globex.admin.id and member.user_name == "Grace.Admin"
        assert member.status is m.MemberStatus.ACTIVE and member.role is m.Role.ADMIN
        assert groups == []


def test_a_user_name_lookup_in_a_writer_holds_the_member_and_writes_its_changes(
    services: Services, globex: Org
) -> None:
    _name_admin(services, globex, "Grace.Admin")
    with services.db.transaction() as tx:
        held = tx.get(m.Member, globex.id, globex.admin.id)
        [(member, _)] = _lookup(tx, globex, "Grace.Admin")
        assert member is held
    with services.db.transaction() as tx:
        [(member, _)] = _lookup(tx, globex, "Grace.Admin")
        assert member in tx.session
        member.display_name = "Changed After A Lookup"
    assert services.members.get(globex.id, globex.admin.id).member.display_name == "Changed After A Lookup"
