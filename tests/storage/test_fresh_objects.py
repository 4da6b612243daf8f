"""``fresh``: a new mapped object built without the ORM's attribute events holds what its constructor holds,
and once ``insert_new`` wrote it, a later change to it in the transaction is still written."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from gateway.domain import model as m
from gateway.services import Services
from gateway.storage.db import Database
from gateway.storage.outbox_tables import OutboxEvent
from gateway.storage.store import fresh, row_of

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
CLI = m.Actor.cli()


def _member(build, **extra):  # type: ignore[no-untyped-def]
    return build(
        m.Member, id="m-1", org_id="o-1", email="ada@acme.test", role=m.Role.MEMBER,
        status=m.MemberStatus.ACTIVE, joined_via=m.JoinPath.SCIM, created_at=AT, updated_at=AT, **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra", [{}, {"display_name": "Ada", "version": 3, "attributes": {"title": "Countess"}}]
)
def test_it_holds_what_the_constructor_holds(extra: dict[str, object]) -> None:
    built, constructed = _member(fresh, **extra), _member(lambda cls, **v: cls(**v), **extra)
    assert row_of(built) == row_of(constructed)
    assert dataclasses.asdict(built) == dataclasses.asdict(constructed)


def test_default_factories_give_each_object_its_own_value() -> None:
    first, second = _member(fresh), _member(fresh)
    first.attributes["x"] = 1
    assert second.attributes == {}
    event = fresh(OutboxEvent, org_id="o-1", seq=1, event_id="e", type="t", occurred_at=AT)
    assert event.payload == {} and event.id is None


def test_a_missing_field_is_refused_as_the_constructor_refuses_it() -> None:
    with pytest.raises(TypeError, match="email"):
        fresh(m.Member, id="m-1", org_id="o-1")


def test_a_change_after_insert_new_is_written(db: Database, services: Services) -> None:
    org = services.orgs.create("Acme", m.MembershipMode.SSO, CLI).org
    with db.transaction() as tx:
        member = fresh(
            m.Member, id="m-1", org_id=org.id, email="ada@acme.test", role=m.Role.MEMBER,
            status=m.MemberStatus.ACTIVE, joined_via=m.JoinPath.SCIM, created_at=AT, updated_at=AT,
        )  # fmt: skip
        member.display_name = "Ada"  # before the insert: part of the row
        tx.insert_new(member)
        member.given_name = "Augusta"  # after it: written as a change
    with db.transaction(write=False) as tx:
        stored = tx.get(m.Member, org.id, "m-1")
        assert stored is not None
        assert (stored.display_name, stored.given_name, stored.attributes) == ("Ada", "Augusta", {})
