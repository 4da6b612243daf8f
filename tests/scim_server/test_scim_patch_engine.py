"""The PATCH engine on documents (pure): RFC 7644 section 3.5.2 semantics and the IdP dialects."""

from __future__ import annotations

import pytest

from scim.filter import InvalidPath
from scim.patch import Operation, apply_operations, parse_operations, split_member_operations
from scim.schema import GROUPS, USERS, InvalidSyntax, InvalidValue, MutabilityError, NoTarget

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def ops(*items: dict) -> list[Operation]:
    return parse_operations({"schemas": [PATCH], "Operations": list(items)}, PATCH)


BASE = {
    "userName": "ann",
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [
        {"value": "a@work.example", "type": "work", "primary": True},
        {"value": "a@home.example", "type": "home"},
    ],
}


def test_op_names_are_case_insensitive_and_keys_too() -> None:
    parsed = parse_operations(
        {"schemas": [PATCH], "operations": [{"OP": "Replace", "Path": "title", "Value": "x"}]}, PATCH
    )
    assert parsed == [Operation("replace", "title", "x")]


def test_add_merges_complex_and_appends_multi_valued_with_one_primary() -> None:
    out = apply_operations(USERS, BASE, ops(
        {"op": "add", "path": "name", "value": {"middleName": "Q"}},
        {"op": "add", "path": "emails", "value": [{"value": "new@work.example", "primary": "True"}]},
    ))  # fmt: skip
    assert out["name"] == {"givenName": "Ann", "familyName": "Lee", "middleName": "Q"}
    assert [e.get("primary") for e in out["emails"]] == [False, None, True]
    assert BASE["emails"][0]["primary"] is True  # the input document is not modified


def test_replace_with_filter_and_sub_attribute_creates_the_element_entra_expects() -> None:
    out = apply_operations(USERS, {"userName": "ann"}, ops(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "w@x.example"},
    ))  # fmt: skip
    assert out["emails"] == [{"type": "work", "value": "w@x.example"}]
    again = apply_operations(
        USERS, BASE, ops({"op": "replace", "path": 'EMAILS[TYPE eq "WORK"].Value', "value": "z@x.example"})
    )
    assert again["emails"][0] == {"value": "z@x.example", "type": "work", "primary": True}


def test_remove_forms() -> None:
    out = apply_operations(USERS, BASE, ops(
        {"op": "remove", "path": 'emails[type eq "home"]'},
        {"op": "remove", "path": "name.familyName"},
    ))  # fmt: skip
    assert out["emails"] == [BASE["emails"][0]] and out["name"] == {"givenName": "Ann"}
    out = apply_operations(USERS, BASE, ops({"op": "remove", "path": 'emails[type eq "work"].primary'}))
    assert out["emails"][0] == {"value": "a@work.example", "type": "work"}
    out = apply_operations(
        USERS, BASE, ops({"op": "remove", "path": "emails", "value": [{"value": "a@home.example"}]})
    )
    assert [e["value"] for e in out["emails"]] == ["a@work.example"]
    assert "name" not in apply_operations(USERS, BASE, ops({"op": "remove", "path": "name"}))


def test_no_path_values_with_dotted_and_urn_keys() -> None:
    out = apply_operations(USERS, BASE, ops({"op": "replace", "value": {
        "name.givenName": "Anne", f"{ENTERPRISE}:department": "R&D", "active": "False", "id": "ignored",
        "urn:ietf:params:scim:schemas:core:2.0:User:title": "CTO",
    }}))  # fmt: skip
    assert out["name"]["givenName"] == "Anne" and out["active"] is False and out["title"] == "CTO"
    assert out[ENTERPRISE] == {"department": "R&D"}
    whole = apply_operations(
        USERS, BASE, ops({"op": "add", "value": {ENTERPRISE: {"manager": {"value": "m1"}}}})
    )
    assert whole[ENTERPRISE] == {"manager": {"value": "m1"}}
    assert ENTERPRISE not in apply_operations(USERS, whole, ops({"op": "remove", "path": ENTERPRISE}))


def test_errors() -> None:
    with pytest.raises(InvalidSyntax):
        parse_operations({"schemas": [PATCH], "Operations": [{"op": "copy", "path": "a"}]}, PATCH)
    with pytest.raises(InvalidSyntax):
        parse_operations({"Operations": [{"op": "add", "path": "title", "value": "x"}]}, PATCH)
    with pytest.raises(NoTarget):
        parse_operations({"schemas": [PATCH], "Operations": [{"op": "remove"}]}, PATCH)
    with pytest.raises(InvalidValue):
        parse_operations({"schemas": [PATCH], "Operations": [{"op": "add", "value": "x"}]}, PATCH)
    with pytest.raises(MutabilityError):
        apply_operations(USERS, BASE, ops({"op": "replace", "path": "groups", "value": []}))
    with pytest.raises(InvalidPath):
        apply_operations(USERS, BASE, ops({"op": "replace", "path": "urn:x:y:title", "value": "x"}))
    with pytest.raises(InvalidPath):
        apply_operations(USERS, BASE, ops({"op": "replace", "path": 'title[type eq "x"]', "value": "x"}))
    with pytest.raises(NoTarget):
        apply_operations(
            USERS,
            BASE,
            ops(
                {
                    "op": "replace",
                    "path": 'emails[type eq "x" or primary eq true and type eq "y"]',
                    "value": {"value": "v"},
                }
            ),
        )
    with pytest.raises(InvalidValue):
        apply_operations(USERS, BASE, ops({"op": "replace", "path": "active", "value": "perhaps"}))


def test_member_operations_become_deltas_in_request_order() -> None:
    delta, rest = split_member_operations(GROUPS, ops(
        {"op": "add", "path": "members", "value": [{"value": "a", "display": "A"}, {"value": "b"}]},
        {"op": "remove", "path": 'members[value eq "a"]'},
        {"op": "replace", "path": "displayName", "value": "New"},
        {"op": "Remove", "path": "members", "value": [{"value": "c"}]},
        {"op": "remove", "path": 'members[display eq "x"]'},
    ))  # fmt: skip
    assert list(delta.add) == ["b"] and list(delta.remove) == ["a", "c"] and len(delta.remove_matching) == 1
    assert delta.displays == {"a": "A"}
    assert rest == [Operation("replace", "displayName", "New")]
    replace, _ = split_member_operations(GROUPS, ops(
        {"op": "replace", "value": {"members": [{"value": "x"}], "displayName": "N"}},
        {"op": "add", "path": "members", "value": [{"value": "y"}]},
    ))  # fmt: skip
    assert replace.replace == ["x", "y"]
    cleared, _ = split_member_operations(GROUPS, ops({"op": "remove", "path": "members"}))
    assert cleared.replace == []
    with pytest.raises(InvalidPath):
        split_member_operations(
            GROUPS, ops({"op": "add", "path": 'members[value eq "a"]', "value": {"value": "a"}})
        )
