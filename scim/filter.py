"""The SCIM filter and path grammar (RFC 7644 sections 3.4.2.2 and 3.5.2), parsed into the domain's filter
nodes. Precedence: ``not`` binds tightest, then ``and``, then ``or``; parentheses group. Keywords and
operators are case-insensitive. Any syntax error raises ``InvalidFilter`` (answered as 400 invalidFilter),
or ``InvalidPath`` for PATCH paths.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gateway.domain.groups import (
    COMPARISON_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    InvalidFilter,
    Not,
    Or,
    Present,
    ValuePath,
)

MAX_FILTER_LENGTH = 4096
MAX_DEPTH = 50

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:]))
  | (?P<punct>[()\[\]])
  | (?P<sub>\.[A-Za-z_$][\w$-]*)
  | (?P<word>[A-Za-z_$][\w$:.\-]*)
    """,
    re.VERBOSE,
)


class InvalidPath(InvalidFilter):
    code = "invalid_path"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokens(text: str, error: type[InvalidFilter]) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise error(f"Unexpected character {text[pos]!r} at position {pos} in {text!r}.")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return out


def parse_attr_path(text: str, error: type[InvalidFilter] = InvalidFilter) -> AttrPath:
    """``urn:...:User:name.givenName`` -> AttrPath(attr="name", sub="givenName", urn="urn:...:User")."""
    urn = None
    rest = text
    if text.lower().startswith("urn:"):
        urn, sep, rest = text.rpartition(":")
        if not sep or not rest:
            raise error(f"{text!r} is not an attribute path.")
    attr, _, sub = rest.partition(".")
    if not re.fullmatch(r"[A-Za-z_$][\w$-]*", attr) or (sub and not re.fullmatch(r"[A-Za-z_$][\w$-]*", sub)):
        raise error(f"{text!r} is not an attribute path.")
    return AttrPath(attr=attr, sub=sub or None, urn=urn)


class _Parser:
    def __init__(self, text: str, error: type[InvalidFilter]) -> None:
        self.text = text
        self.error = error
        self.tokens = _tokens(text, error)
        self.i = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------------------
    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error(f"The filter {self.text!r} ends too early.")
        self.i += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.i += 1
            return token.text.lower()
        return None

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise self.error(
                f"Expected {text!r} at position {token.pos} in {self.text!r}, found {token.text!r}."
            )

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.error(f"Unexpected {token.text!r} at position {token.pos} in {self.text!r}.")

    # -- grammar -------------------------------------------------------------------------------------------
    def filter(self) -> Filter:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("The filter is nested too deeply.")
        left = self.conjunction()
        while self.keyword("or"):
            left = Or(left, self.conjunction())
        self.depth -= 1
        return left

    def conjunction(self) -> Filter:
        left = self.unary()
        while self.keyword("and"):
            left = And(left, self.unary())
        return left

    def unary(self) -> Filter:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() == "not":
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if nxt is not None and nxt.text == "(":
                self.i += 1
                return Not(self.group())
        if token is not None and token.text == "(":
            return self.group()
        return self.attribute_expression()

    def group(self) -> Filter:
        self.expect("(")
        inner = self.filter()
        self.expect(")")
        return inner

    def attribute_expression(self) -> Filter:
        token = self.take()
        if token.kind != "word":
            raise self.error(f"Expected an attribute name at position {token.pos} in {self.text!r}.")
        path = parse_attr_path(token.text, self.error)
        nxt = self.peek()
        if nxt is not None and nxt.text == "[":
            if path.sub:
                raise self.error(
                    f"{token.text!r}: a value filter applies to an attribute, not a sub-attribute."
                )
            self.take()
            inner = self.filter()
            self.expect("]")
            after = self.peek()
            if after is not None and after.kind == "sub":
                # emails[type eq "work"].value eq "x": some work email whose value is "x".
                self.take()
                sub = AttrPath(attr=after.text[1:])
                return ValuePath(path, And(inner, self.comparison(sub)))
            return ValuePath(path, inner)
        return self.comparison(path)

    def comparison(self, path: AttrPath) -> Filter:
        if self.keyword("pr"):
            return Present(path)
        op_token = self.take()
        op = op_token.text.lower()
        if op_token.kind != "word" or op not in COMPARISON_OPERATORS:
            raise self.error(
                f"Unknown operator {op_token.text!r} at position {op_token.pos} in {self.text!r}; "
                "use eq, ne, co, sw, ew, gt, ge, lt, le or pr."
            )
        return Compare(path, op, self.value())

    def value(self) -> str | int | float | bool | None:
        token = self.take()
        if token.kind == "string":
            try:
                return json.loads(token.text)
            except ValueError:
                raise self.error(f"Bad string literal {token.text!r} in {self.text!r}.") from None
        if token.kind == "number":
            number = float(token.text)
            return int(number) if number.is_integer() and re.fullmatch(r"-?\d+", token.text) else number
        if token.kind == "word" and token.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text.lower()]
        raise self.error(
            f"Expected a value (a quoted string, number, true, false or null) at position {token.pos} "
            f"in {self.text!r}, found {token.text!r}."
        )


def parse_filter(text: str) -> Filter:
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter("The filter is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    parser = _Parser(text, InvalidFilter)
    result = parser.filter()
    parser.done()
    return result


@dataclass(frozen=True)
class PatchPath:
    """A PATCH target: ``attr``, ``attr.sub``, ``attr[filter]`` or ``attr[filter].sub`` (URN prefix allowed)."""

    path: AttrPath
    filter: Filter | None = None
    sub: str | None = None


def parse_patch_path(text: str) -> PatchPath:
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath("The PATCH path is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidPath("The PATCH path is too long.")
    parser = _Parser(text.strip(), InvalidPath)
    token = parser.take()
    if token.kind != "word":
        raise InvalidPath(f"{text!r} is not a valid PATCH path.")
    path = parse_attr_path(token.text, InvalidPath)
    nxt = parser.peek()
    if nxt is None:
        return PatchPath(path)
    if nxt.text != "[" or path.sub:
        raise InvalidPath(f"{text!r} is not a valid PATCH path.")
    parser.take()
    inner = parser.filter()
    parser.expect("]")
    sub = None
    after = parser.peek()
    if after is not None and after.kind == "sub":
        parser.take()
        sub = after.text[1:]
    parser.done()
    return PatchPath(path, inner, sub)
