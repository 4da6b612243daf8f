"""The PATCH engine (RFC 7644 section 3.5.2): ``add``, ``replace`` and ``remove`` on a resource document.

Accepted as identity providers send them: ``op`` in any case (``Add``, ``Replace``, ``Remove``), operations
with and without ``path``, value filters in paths (``emails[type eq "work"].value``), dotted and URN-qualified
keys inside a no-path value, booleans sent as strings. Group membership operations are not applied to a
document: ``member_changes`` turns them into deltas so that only the named memberships are touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.groups import And, Compare, Filter, Not, Or, Present, ValuePath
from scim.filter import InvalidPath, PatchPath, parse_patch_path
from scim.schema import (
    COMMON,
    Attribute,
    InvalidSyntax,
    InvalidValue,
    MutabilityError,
    NoTarget,
    ResourceKind,
    Schema,
    coerce,
    set_path_value,
)

OPERATIONS = ("add", "replace", "remove")
MAX_OPERATIONS = 1000


@dataclass(frozen=True)
class Operation:
    op: str
    path: str | None
    value: Any


def parse_operations(body: Any, schema_urn: str) -> list[Operation]:
    """The operations of a PatchOp message, with ``op`` normalized to lower case."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or schema_urn not in schemas:
        raise InvalidSyntax(f"A PATCH request must list the schema {schema_urn}.")
    keys = {str(k).lower(): v for k, v in body.items()}
    raw = keys.get("operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntax("A PATCH request needs a non-empty 'Operations' list.")
    if len(raw) > MAX_OPERATIONS:
        raise InvalidSyntax(f"A PATCH request may carry at most {MAX_OPERATIONS} operations.")
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidSyntax(f"Operation {index} must be an object.")
        fields = {str(k).lower(): v for k, v in item.items()}
        op = str(fields.get("op") or "").strip().lower()
        if op not in OPERATIONS:
            raise InvalidSyntax(
                f"Operation {index}: 'op' must be add, replace or remove, not {fields.get('op')!r}."
            )
        path = fields.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidPath(f"Operation {index}: 'path' must be a string.")
        path = path.strip() if path else None
        if op == "remove" and not path:
            raise NoTarget(f"Operation {index}: remove needs a 'path'.")
        if op != "remove" and "value" not in fields:
            raise InvalidValue(f"Operation {index}: {op} needs a 'value'.")
        if op != "remove" and not path and not isinstance(fields.get("value"), dict):
            raise InvalidValue(
                f"Operation {index}: without a 'path', 'value' must be an object of attributes."
            )
        out.append(Operation(op, path, fields.get("value")))
    return out


def apply_operations(kind: ResourceKind, doc: dict[str, Any], operations: list[Operation]) -> dict[str, Any]:
    """A new document with every operation applied in order; the input is not modified."""
    result = copy.deepcopy(doc)
    for operation in operations:
        if operation.path is None:
            for key, value in operation.value.items():
                attr = kind.lookup(str(key))
                if str(key).lower() == "schemas" or (attr is not None and attr.read_only):
                    continue  # Okta repeats the read-only id inside a no-path value; it changes nothing
                _apply(kind, result, operation.op, str(key), value)
        else:
            _apply(kind, result, operation.op, operation.path, operation.value)
    return result


def _apply(kind: ResourceKind, doc: dict[str, Any], op: str, path_text: str, value: Any) -> None:
    extension = kind.extension(path_text)
    if extension is not None:
        if op == "remove" or (op == "replace" and value is None):
            doc.pop(extension.urn, None)
        else:
            set_path_value(kind, doc, extension.urn, value)
        return
    target = parse_patch_path(path_text)
    schema, container_key = _schema_for(kind, target, path_text)
    name = target.path.attr
    if schema is kind.core and name.lower() in COMMON:
        common = COMMON[name.lower()]
        if common.read_only or common.name == "schemas":
            raise MutabilityError(f"{common.name} is read-only.")
        if target.filter is not None or target.path.sub:
            raise InvalidPath(f"{path_text!r} is not a valid path.")
        _set_simple(doc, common, op, value)
        return
    attr = schema.attr(name)
    if attr is None:
        raise InvalidPath(f"{path_text!r}: {name} is not an attribute of {kind.name}.")
    if attr.read_only:
        raise MutabilityError(f"{attr.name} is read-only.")
    container = doc if container_key is None else dict(doc.get(container_key) or {})
    if target.filter is not None:
        _apply_filtered(attr, container, op, target, value, path_text)
    elif target.path.sub:
        _apply_sub(attr, container, op, target.path.sub, value, path_text)
    else:
        _apply_whole(attr, container, op, value)
    if container_key is not None:
        if container:
            doc[container_key] = container
        else:
            doc.pop(container_key, None)


def _schema_for(kind: ResourceKind, target: PatchPath, path_text: str) -> tuple[Schema, str | None]:
    urn = target.path.urn
    if urn is None or urn.lower() == kind.core.urn.lower():
        return kind.core, None
    extension = kind.extension(urn)
    if extension is None:
        raise InvalidPath(f"{path_text!r}: unknown schema {urn}.")
    return extension, extension.urn


def _set_simple(container: dict[str, Any], attr: Attribute, op: str, value: Any) -> None:
    coerced = None if op == "remove" else coerce(attr, value, attr.name)
    if coerced is None:
        container.pop(attr.name, None)
    else:
        container[attr.name] = coerced


def _apply_whole(attr: Attribute, container: dict[str, Any], op: str, value: Any) -> None:
    if op == "remove":
        if attr.multi and value is not None:
            doomed = coerce(attr, value, attr.name)
            kept = [
                item for item in container.get(attr.name) or [] if not any(_same(item, d) for d in doomed)
            ]
            _store(container, attr.name, kept)
        else:
            container.pop(attr.name, None)
        return
    coerced = coerce(attr, value, attr.name)
    if coerced is None:
        if op == "replace":
            container.pop(attr.name, None)
        return
    if attr.multi:
        current = list(container.get(attr.name) or []) if op == "add" else []
        for item in coerced:
            if not any(_same(item, existing) and item == existing for existing in current):
                current.append(item)
        _store(container, attr.name, _one_primary(current, coerced))
    elif attr.type == "complex":
        merged = dict(container.get(attr.name) or {})
        merged.update(coerced)
        _store(container, attr.name, merged)
    else:
        container[attr.name] = coerced


def _apply_sub(
    attr: Attribute, container: dict[str, Any], op: str, sub_name: str, value: Any, path: str
) -> None:
    sub = attr.sub(sub_name)
    if attr.type != "complex" or sub is None:
        raise InvalidPath(f"{path!r}: {sub_name} is not a sub-attribute of {attr.name}.")
    if sub.read_only:
        raise MutabilityError(f"{attr.name}.{sub.name} is read-only.")
    coerced = None if op == "remove" else coerce(sub, value, f"{attr.name}.{sub.name}")
    if attr.multi:
        items = [dict(item) for item in container.get(attr.name) or []]
        for item in items:
            _store(item, sub.name, coerced)
        _store(container, attr.name, [item for item in items if item])
        return
    inner = dict(container.get(attr.name) or {})
    _store(inner, sub.name, coerced)
    _store(container, attr.name, inner)


def _apply_filtered(
    attr: Attribute, container: dict[str, Any], op: str, target: PatchPath, value: Any, path: str
) -> None:
    if not attr.multi or attr.type != "complex":
        raise InvalidPath(f"{path!r}: a value filter needs a multi-valued complex attribute.")
    assert target.filter is not None
    items = [dict(item) for item in container.get(attr.name) or []]
    matched = [i for i, item in enumerate(items) if matches(target.filter, item, attr)]
    sub = attr.sub(target.sub) if target.sub else None
    if target.sub and sub is None:
        raise InvalidPath(f"{path!r}: {target.sub} is not a sub-attribute of {attr.name}.")
    if sub is not None and sub.read_only:
        raise MutabilityError(f"{attr.name}.{sub.name} is read-only.")
    if op == "remove":
        if sub is None:
            items = [item for i, item in enumerate(items) if i not in matched]
        else:
            for i in matched:
                items[i].pop(sub.name, None)
        _store(container, attr.name, [item for item in items if item])
        return
    if sub is not None:
        coerced = coerce(sub, value, f"{attr.name}.{sub.name}")
        if not matched:
            # Entra ID replaces emails[type eq "work"].value on a user that has no work email yet.
            template = equality_template(target.filter, attr)
            if template is None:
                raise NoTarget(f"{path!r} matches no value.")
            items.append({**template, sub.name: coerced})
        for i in matched:
            _store(items[i], sub.name, coerced)
    else:
        element = coerce(_as_single(attr), value, attr.name)
        if not isinstance(element, dict) or not element:
            raise InvalidValue(f"{path!r}: the value must be an object.")
        if not matched:
            if op == "replace":
                raise NoTarget(f"{path!r} matches no value.")
            template = equality_template(target.filter, attr) or {}
            items.append({**template, **element})
        for i in matched:
            items[i] = {**items[i], **element} if op == "add" else element
    _store(container, attr.name, _one_primary(items, items))


def _as_single(attr: Attribute) -> Attribute:
    return Attribute(
        attr.name, attr.type, False, attr.mutability, attr.returned, attr.case_exact, False, attr.subs
    )


def _store(container: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value == [] or value == {}:
        container.pop(name, None)
    else:
        container[name] = value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and "value" in a and "value" in b:
        return a["value"] == b["value"]
    return bool(a == b)


def _one_primary(items: list[Any], newest: list[Any]) -> list[Any]:
    """At most one value may be primary: a newly added primary value demotes the others (RFC 7643 2.4)."""
    primaries = [item for item in items if isinstance(item, dict) and item.get("primary") is True]
    if len(primaries) <= 1:
        return items
    keep = next(
        (item for item in reversed(newest) if isinstance(item, dict) and item.get("primary")), primaries[-1]
    )
    return [
        {**item, "primary": False}
        if isinstance(item, dict) and item.get("primary") and item is not keep
        else item
        for item in items
    ]


def matches(expr: Filter, element: dict[str, Any], attr: Attribute) -> bool:
    """Evaluate a value filter on one element of a multi-valued attribute (sub-attribute names are
    case-insensitive; string comparison honours the sub-attribute's caseExact)."""
    if isinstance(expr, And):
        return matches(expr.left, element, attr) and matches(expr.right, element, attr)
    if isinstance(expr, Or):
        return matches(expr.left, element, attr) or matches(expr.right, element, attr)
    if isinstance(expr, Not):
        return not matches(expr.expr, element, attr)
    if isinstance(expr, ValuePath) or expr.path.sub:
        raise InvalidPath("Only sub-attributes can be used inside a value filter.")
    sub = attr.sub(expr.path.attr)
    key = sub.name if sub else expr.path.attr
    actual = next((v for k, v in element.items() if k.lower() == key.lower()), None)
    if isinstance(expr, Present):
        return actual not in (None, "", [], {})
    return _compare(actual, expr.op, expr.value, sub.case_exact if sub else False)


def _compare(actual: Any, op: str, expected: Any, case_exact: bool) -> bool:
    if isinstance(actual, str) and isinstance(expected, str) and not case_exact:
        actual, expected = actual.lower(), expected.lower()
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    if op in ("co", "sw", "ew"):
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return {"co": expected in actual, "sw": actual.startswith(expected), "ew": actual.endswith(expected)}[
            op
        ]
    try:
        return bool(
            {
                "gt": actual > expected,
                "ge": actual >= expected,
                "lt": actual < expected,
                "le": actual <= expected,
            }[op]
        )
    except TypeError:
        return False


def equality_template(expr: Filter, attr: Attribute) -> dict[str, Any] | None:
    """``type eq "work" and primary eq true`` -> {"type": "work", "primary": True}; None for other filters."""
    if isinstance(expr, And):
        left, right = equality_template(expr.left, attr), equality_template(expr.right, attr)
        return None if left is None or right is None else {**left, **right}
    if isinstance(expr, Compare) and expr.op == "eq" and not expr.path.sub:
        sub = attr.sub(expr.path.attr)
        return None if sub is None else {sub.name: expr.value}
    return None


# -- group membership --------------------------------------------------------------------------------------
@dataclass
class MemberDelta:
    """Membership operations of a group PATCH, reduced to deltas in request order."""

    replace: list[str] | None = None
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)
    remove_matching: list[Filter] = field(default_factory=list)
    displays: dict[str, str] = field(default_factory=dict)

    @property
    def touched(self) -> bool:
        return bool(self.replace is not None or self.add or self.remove or self.remove_matching)

    def add_members(self, refs: list[dict[str, Any]]) -> None:
        for ref in refs:
            self.remove.pop(ref["value"], None)
            if self.replace is not None:
                if ref["value"] not in self.replace:
                    self.replace.append(ref["value"])
            else:
                self.add[ref["value"]] = None
            if ref.get("display"):
                self.displays[ref["value"]] = ref["display"]

    def remove_members(self, ids: list[str]) -> None:
        for member_id in ids:
            self.add.pop(member_id, None)
            if self.replace is not None:
                self.replace = [x for x in self.replace if x != member_id]
            else:
                self.remove[member_id] = None

    def replace_members(self, refs: list[dict[str, Any]]) -> None:
        self.replace, self.add, self.remove, self.remove_matching = [], {}, {}, []
        self.add_members(refs)


def member_refs(attr: Attribute, value: Any) -> list[dict[str, Any]]:
    refs = coerce(attr, value, attr.name) or []
    for ref in refs:
        if not isinstance(ref.get("value"), str) or not ref["value"]:
            raise InvalidValue("Every member needs a 'value' (the id of a user).")
        if str(ref.get("type") or "User").lower() != "user":
            raise InvalidValue("Only users can be group members; nested groups are not supported.")
    return refs


def _ids_if_value_eq(expr: Filter) -> list[str] | None:
    """``value eq "a" or value eq "b"`` -> ["a", "b"]; None for any other filter."""
    if isinstance(expr, Or):
        left, right = _ids_if_value_eq(expr.left), _ids_if_value_eq(expr.right)
        return None if left is None or right is None else left + right
    if (
        isinstance(expr, Compare)
        and expr.op == "eq"
        and expr.path.attr.lower() == "value"
        and not expr.path.sub
        and isinstance(expr.value, str)
    ):
        return [expr.value]
    return None


def split_member_operations(
    kind: ResourceKind, operations: list[Operation]
) -> tuple[MemberDelta, list[Operation]]:
    """Separate the operations on ``members`` (returned as a delta) from those on other attributes."""
    attr = kind.core.attr("members")
    assert attr is not None
    delta = MemberDelta()
    rest: list[Operation] = []
    for operation in operations:
        if operation.path is None:
            others = {}
            for key, value in operation.value.items():
                if str(key).lower() == "members" or str(key).lower() == f"{kind.core.urn}:members".lower():
                    refs = member_refs(attr, value)
                    if operation.op == "replace":
                        delta.replace_members(refs)
                    else:
                        delta.add_members(refs)
                else:
                    others[key] = value
            if others:
                rest.append(Operation(operation.op, None, others))
            continue
        target = parse_patch_path(operation.path)
        if target.path.attr.lower() != "members" or (
            target.path.urn is not None and target.path.urn.lower() != kind.core.urn.lower()
        ):
            rest.append(operation)
            continue
        if target.path.sub or target.sub:
            raise MutabilityError(
                "Member sub-attributes cannot be changed; add or remove the member instead."
            )
        if target.filter is not None:
            if operation.op != "remove":
                raise InvalidPath("A member filter can only be used to remove members.")
            ids = _ids_if_value_eq(target.filter)
            if ids is not None:
                delta.remove_members(ids)
            else:
                delta.remove_matching.append(target.filter)
            continue
        if operation.op == "remove":
            if operation.value is None:
                delta.replace_members([])
            else:
                delta.remove_members([ref["value"] for ref in member_refs(attr, operation.value)])
        elif operation.op == "replace":
            delta.replace_members(member_refs(attr, operation.value))
        else:
            delta.add_members(member_refs(attr, operation.value))
    return delta, rest
