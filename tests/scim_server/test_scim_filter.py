"""The filter and PATCH-path grammar (pure): precedence, case-insensitivity, literals, and clear errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.groups import And, AttrPath, Compare, InvalidFilter, Not, Or, Present, ValuePath
from scim.filter import InvalidPath, PatchPath, parse_filter, parse_patch_path


def test_precedence_not_then_and_then_or() -> None:
    parsed = parse_filter('a eq "1" or b eq "2" and not (c pr)')
    assert parsed == Or(
        Compare(AttrPath("a"), "eq", "1"),
        And(Compare(AttrPath("b"), "eq", "2"), Not(Present(AttrPath("c")))),
    )


def test_keywords_and_operators_are_case_insensitive_and_literals_typed() -> None:
    assert parse_filter("active EQ True") == Compare(AttrPath("active"), "eq", True)
    assert parse_filter("x Ne null") == Compare(AttrPath("x"), "ne", None)
    assert parse_filter("n GT 10") == Compare(AttrPath("n"), "gt", 10)
    assert parse_filter("n le 1.5e2") == Compare(AttrPath("n"), "le", 150.0)
    assert parse_filter(r'title eq "say \"hi\" \u00e9"') == Compare(AttrPath("title"), "eq", 'say "hi" é')


def test_urn_qualified_and_sub_attribute_paths() -> None:
    parsed = parse_filter('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "A"')
    assert parsed == Compare(
        AttrPath("name", "givenName", "urn:ietf:params:scim:schemas:core:2.0:User"), "sw", "A"
    )


def test_value_paths_with_and_without_a_trailing_sub_attribute() -> None:
    assert parse_filter('emails[type eq "work" and primary eq true]') == ValuePath(
        AttrPath("emails"),
        And(Compare(AttrPath("type"), "eq", "work"), Compare(AttrPath("primary"), "eq", True)),
    )
    assert parse_filter('emails[type eq "work"].value eq "a@b.c"') == ValuePath(
        AttrPath("emails"),
        And(Compare(AttrPath("type"), "eq", "work"), Compare(AttrPath("value"), "eq", "a@b.c")),
    )


@pytest.mark.parametrize(
    "text",
    ["", "userName", 'userName eq', 'userName xx "a"', '(a eq "1"', 'a eq "1")', 'a eq "1" and', "a eq bare",
     'emails[type eq "w"', 'a.b.c eq "x"', "a eq 'single'", '"x" eq a', "a eq 1x"],
)  # fmt: skip
def test_bad_filters_are_invalid_filter_errors(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_filter(text)


def test_patch_paths() -> None:
    assert parse_patch_path("name.familyName") == PatchPath(AttrPath("name", "familyName"))
    assert parse_patch_path('members[value eq "1"]') == PatchPath(
        AttrPath("members"), Compare(AttrPath("value"), "eq", "1")
    )
    assert parse_patch_path('emails[type eq "work"].value') == PatchPath(
        AttrPath("emails"), Compare(AttrPath("type"), "eq", "work"), "value"
    )
    for bad in ("", 'emails[type eq "work"', "a b", 'name.x[type eq "w"]', 'emails[type eq "w"] extra'):
        with pytest.raises(InvalidPath):
            parse_patch_path(bad)


@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    with contextlib.suppress(InvalidFilter):
        parse_filter(text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_string_literal_round_trips(value: str) -> None:
    import json

    assert parse_filter(f"userName eq {json.dumps(value)}") == Compare(AttrPath("userName"), "eq", value)
