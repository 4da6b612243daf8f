"""The SCIM endpoints as plain functions of a request (method, path, query, body, headers) returning a
``Result``. The Flask view and ``/Bulk`` both call ``dispatch``, so a bulk operation behaves exactly like
the same request sent alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain import model as m
from gateway.domain.groups import InvalidFilter, Query, SortSpec, VersionMismatch
from gateway.services.cursors import CursorBox
from gateway.services.provisioning import GroupChanges, ProvisioningService
from scim import cursor_paging, discovery
from scim.errors import ScimError
from scim.filter import parse_attr_path, parse_filter
from scim.patch import apply_operations, parse_operations, split_member_operations
from scim.representation import (
    etag,
    group_document,
    group_record,
    group_writable,
    parse_etag,
    user_document,
    user_record,
    user_writable,
)
from scim.schema import (
    GROUPS,
    LIST_URN,
    PATCH_URN,
    SEARCH_URN,
    USERS,
    InvalidSyntax,
    InvalidValue,
    ResourceKind,
    canonical_document,
    parse_attribute_list,
    project,
)

MAX_PAGE = discovery.MAX_RESULTS
DEFAULT_PAGE = discovery.DEFAULT_PAGE_SIZE
# startIndex and count beyond a 32-bit integer are refused (400), not passed on to the database.
MAX_INT_ARG = 2**31 - 1
PATCH_RETRIES = 3


@dataclass(frozen=True)
class Caller:
    """Who is calling (the token's organization and the audit actor) and where the API lives."""

    org_id: str
    actor: m.Actor
    base_url: str
    max_payload: int
    cursors: CursorBox | None = None


@dataclass
class Result:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    args: Mapping[str, str]
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def dispatch(service: ProvisioningService, caller: Caller, call: Call) -> Result:
    parts = [p for p in call.path.strip("/").split("/") if p]
    if not parts:
        return _only(call, ("GET",), lambda: _search_all(service, caller, call.args))
    head = parts[0].lower()
    rest = parts[1:]
    if head == ".search" and not rest:
        return _only(call, ("POST",), lambda: _search_all(service, caller, _search_body(call.body)))
    if head == "serviceproviderconfig" and not rest:
        return _only(
            call,
            ("GET",),
            lambda: Result(200, discovery.service_provider_config(caller.base_url, caller.max_payload)),
        )
    if head == "resourcetypes":
        return _only(
            call, ("GET",), lambda: _catalog(discovery.resource_types(caller.base_url), rest, "resource type")
        )
    if head == "schemas":
        return _only(call, ("GET",), lambda: _catalog(discovery.schemas(caller.base_url), rest, "schema"))
    if head == "users":
        return _resource(service, caller, call, USERS, rest)
    if head == "groups":
        return _resource(service, caller, call, GROUPS, rest)
    raise ScimError(404, f"There is no SCIM endpoint at /{'/'.join(parts)}.")


def _only(call: Call, methods: tuple[str, ...], handler: Callable[[], Result]) -> Result:
    if call.method not in methods:
        raise ScimError(405, f"{call.method} is not allowed here; use {', '.join(methods)}.")
    return handler()


def _catalog(items: dict[str, dict[str, Any]], rest: list[str], what: str) -> Result:
    if not rest:
        resources = list(items.values())
        return Result(200, _list_response(resources, len(resources), 1))
    item = items.get("/".join(rest))
    if item is None or len(rest) > 1:
        raise ScimError(404, f"There is no {what} {'/'.join(rest)!r}.")
    return Result(200, item)


def _resource(
    service: ProvisioningService, caller: Caller, call: Call, kind: ResourceKind, rest: list[str]
) -> Result:
    if not rest:
        if call.method == "GET":
            return _search(service, caller, kind, call.args)
        if call.method == "POST":
            return _create(service, caller, kind, call)
        raise ScimError(405, f"{call.method} is not allowed on {kind.endpoint}; use GET or POST.")
    if len(rest) > 1:
        raise ScimError(404, f"There is no SCIM endpoint at {kind.endpoint}/{'/'.join(rest)}.")
    if rest[0] == ".search":
        return _only(call, ("POST",), lambda: _search(service, caller, kind, _search_body(call.body)))
    resource_id = rest[0]
    if call.method == "GET":
        return _get(service, caller, kind, resource_id, call)
    if call.method == "PUT":
        return _replace(service, caller, kind, resource_id, call)
    if call.method == "PATCH":
        return _patch(service, caller, kind, resource_id, call)
    if call.method == "DELETE":
        version = parse_etag(call.header("If-Match"))
        if kind is USERS:
            service.delete_user(caller.org_id, resource_id, caller.actor, if_version=version)
        else:
            service.delete_group(caller.org_id, resource_id, caller.actor, if_version=version)
        return Result(204)
    raise ScimError(405, f"{call.method} is not allowed on a {kind.name}; use GET, PUT, PATCH or DELETE.")


# -- reading -----------------------------------------------------------------------------------------------
def _projection(args: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    attributes = parse_attribute_list(_arg(args, "attributes"))
    excluded = parse_attribute_list(_arg(args, "excludedAttributes"))
    if attributes and excluded:
        raise InvalidValue("attributes and excludedAttributes cannot be used together.")
    return attributes, excluded


def _wants_members(args: Mapping[str, Any]) -> bool:
    attributes, excluded = _projection(args)
    if attributes:
        return any(a.lower().split(".")[0].split(":")[-1] == "members" for a in attributes)
    return not any(a.lower().split(".")[0].split(":")[-1] == "members" for a in excluded)


def _get(
    service: ProvisioningService, caller: Caller, kind: ResourceKind, resource_id: str, call: Call
) -> Result:
    attributes, excluded = _projection(call.args)
    doc = _load(service, caller, kind, resource_id, call.args)
    version = doc["meta"]["version"]
    if call.header("If-None-Match") in (version, version.removeprefix("W/")):
        return Result(304, None, {"ETag": version})
    return Result(200, project(kind, doc, attributes, excluded), {"ETag": version})


def _load(
    service: ProvisioningService,
    caller: Caller,
    kind: ResourceKind,
    resource_id: str,
    args: Mapping[str, Any],
) -> dict[str, Any]:
    if kind is USERS:
        view = service.get_user(caller.org_id, resource_id)
        return user_document(view.member, view.groups, caller.base_url)
    group = service.get_group(caller.org_id, resource_id, with_members=_wants_members(args))
    return group_document(group.group, group.members, caller.base_url)


def _query(args: Mapping[str, Any]) -> Query:
    text = _arg(args, "filter")
    expr = parse_filter(text) if text is not None else None
    sort = None
    sort_by = _arg(args, "sortBy")
    if sort_by:
        order = str(_arg(args, "sortOrder") or "ascending").lower()
        if order not in ("ascending", "descending"):
            raise InvalidValue("sortOrder must be ascending or descending.")
        sort = SortSpec(parse_attr_path(str(sort_by)), descending=order == "descending")
    start = _int_arg(args, "startIndex", 1)
    count = _int_arg(args, "count", DEFAULT_PAGE)
    return Query(filter=expr, sort=sort, offset=max(start, 1) - 1, limit=min(max(count, 0), MAX_PAGE))


def _search(
    service: ProvisioningService, caller: Caller, kind: ResourceKind, args: Mapping[str, Any]
) -> Result:
    query = _query(args)
    attributes, excluded = _projection(args)
    fetch = _keyed_fetch(service, caller, kind, args)
    if cursor_paging.requested(args):
        scope = cursor_paging.scope(caller.org_id, kind.endpoint, args)
        page = cursor_paging.page(fetch, query, args, caller.cursors, scope, service.now())
        resources = [project(kind, d, attributes, excluded) for d in page.documents]
        return Result(200, cursor_paging.list_response(resources, page))
    keyed, total = fetch(query)
    resources = [project(kind, d, attributes, excluded) for d, _ in keyed]
    return Result(200, _list_response(resources, total, query.offset + 1))


def _keyed_fetch(
    service: ProvisioningService, caller: Caller, kind: ResourceKind, args: Mapping[str, Any]
) -> cursor_paging.Fetch:
    """Lists documents with their list-order key ``(created_at, id)``, which a cursor continues from."""

    def fetch(query: Query) -> tuple[list[tuple[dict[str, Any], cursor_paging.Key]], int]:
        if kind is USERS:
            users, total = service.list_users(caller.org_id, query)
            return [
                (user_document(v.member, v.groups, caller.base_url), (v.member.created_at, v.member.id))
                for v in users
            ], total
        groups, total = service.list_groups(caller.org_id, query, with_members=_wants_members(args))
        return [
            (group_document(v.group, v.members, caller.base_url), (v.group.created_at, v.group.id))
            for v in groups
        ], total

    return fetch


def _search_all(service: ProvisioningService, caller: Caller, args: Mapping[str, Any]) -> Result:
    """A query at the service root spans Users then Groups; a filter attribute a resource type does not
    have simply matches none of its resources."""
    if cursor_paging.requested(args):
        raise InvalidValue(
            "Cursor pagination is offered on /Users and /Groups (and their /.search); "
            "a query at the service root pages with startIndex."
        )
    query = _query(args)
    attributes, excluded = _projection(args)
    pages: list[tuple[ResourceKind, Callable[[Query], tuple[list[dict[str, Any]], int]]]] = [
        (USERS, lambda q: _users_page(service, caller, q)),
        (GROUPS, lambda q: _groups_page(service, caller, q, args)),
    ]
    resources: list[dict[str, Any]] = []
    total = 0
    compiled = 0
    offset, limit = query.offset, query.limit
    for kind, page in pages:
        try:
            _, kind_total = page(Query(query.filter, None, 0, 0))
        except InvalidFilter:
            continue
        compiled += 1
        if limit > 0 and offset < kind_total:
            docs, _ = page(Query(query.filter, query.sort, offset, limit))
            resources.extend(project(kind, d, attributes, excluded) for d in docs)
            limit -= len(docs)
        offset = max(0, offset - kind_total)
        total += kind_total
    if compiled == 0 and query.filter is not None:
        raise InvalidFilter("The filter names attributes that no resource type has.")
    return Result(200, _list_response(resources, total, query.offset + 1))


def _users_page(
    service: ProvisioningService, caller: Caller, query: Query
) -> tuple[list[dict[str, Any]], int]:
    views, total = service.list_users(caller.org_id, query)
    return [user_document(v.member, v.groups, caller.base_url) for v in views], total


def _groups_page(
    service: ProvisioningService, caller: Caller, query: Query, args: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    views, total = service.list_groups(caller.org_id, query, with_members=_wants_members(args))
    return [group_document(v.group, v.members, caller.base_url) for v in views], total


def _list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _search_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidSyntax("A search request must be a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and SEARCH_URN not in schemas:
        raise InvalidSyntax(f"A search request must list the schema {SEARCH_URN}.")
    return {k: v for k, v in body.items() if k != "schemas"}


def _arg(args: Mapping[str, Any], name: str) -> Any:
    return next((v for k, v in args.items() if k.lower() == name.lower()), None)


def _int_arg(args: Mapping[str, Any], name: str, default: int) -> int:
    value = _arg(args, name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValue(f"{name} must be an integer.") from None
    if abs(number) > MAX_INT_ARG:
        raise InvalidValue(f"{name} must be between {-MAX_INT_ARG} and {MAX_INT_ARG}.")
    return number


# -- writing -----------------------------------------------------------------------------------------------
def _written(kind: ResourceKind, doc: dict[str, Any], call: Call, status: int) -> Result:
    attributes, excluded = _projection(call.args)
    headers = {"ETag": doc["meta"]["version"]}
    if status == 201:
        headers["Location"] = doc["meta"]["location"]
    return Result(status, project(kind, doc, attributes, excluded), headers)


def _create(service: ProvisioningService, caller: Caller, kind: ResourceKind, call: Call) -> Result:
    doc = canonical_document(kind, call.body)
    if kind is USERS:
        view = service.create_user(caller.org_id, user_record(doc), caller.actor)
        return _written(kind, user_document(view.member, view.groups, caller.base_url), call, 201)
    record, ids, displays = group_record(doc)
    group = service.create_group(caller.org_id, record, ids, caller.actor, displays)
    return _written(kind, group_document(group.group, group.members, caller.base_url), call, 201)


def _replace(
    service: ProvisioningService, caller: Caller, kind: ResourceKind, resource_id: str, call: Call
) -> Result:
    doc = canonical_document(kind, call.body)
    version = parse_etag(call.header("If-Match"))
    if kind is USERS:
        view = service.replace_user(
            caller.org_id, resource_id, user_record(doc), caller.actor, if_version=version
        )
        return _written(kind, user_document(view.member, view.groups, caller.base_url), call, 200)
    record, ids, displays = group_record(doc)
    group = service.replace_group(
        caller.org_id, resource_id, record, ids, caller.actor, displays=displays, if_version=version
    )
    return _written(kind, group_document(group.group, group.members, caller.base_url), call, 200)


def _patch(
    service: ProvisioningService, caller: Caller, kind: ResourceKind, resource_id: str, call: Call
) -> Result:
    """Read, apply, write with the version read; a concurrent change between read and write is retried
    (or answered 412 when the client sent If-Match)."""
    operations = parse_operations(call.body, PATCH_URN)
    expected = parse_etag(call.header("If-Match"))
    for attempt in range(PATCH_RETRIES):
        try:
            if kind is USERS:
                return _patch_user(service, caller, resource_id, operations, expected, call)
            return _patch_group(service, caller, resource_id, operations, expected)
        except VersionMismatch:
            if expected is not None or attempt == PATCH_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _patch_user(
    service: ProvisioningService,
    caller: Caller,
    resource_id: str,
    operations: list[Any],
    expected: int | None,
    call: Call,
) -> Result:
    view = service.get_user(caller.org_id, resource_id, for_change=True)
    if expected is not None and view.member.version != expected:
        raise VersionMismatch("The resource changed since it was read (its version does not match If-Match).")
    changed = apply_operations(USERS, user_writable(view.member), operations)
    record = user_record(canonical_document(USERS, changed))
    view = service.replace_user(
        caller.org_id, resource_id, record, caller.actor, if_version=view.member.version
    )
    return _written(USERS, user_document(view.member, view.groups, caller.base_url), call, 200)


def _patch_group(
    service: ProvisioningService,
    caller: Caller,
    resource_id: str,
    operations: list[Any],
    expected: int | None,
) -> Result:
    delta, others = split_member_operations(GROUPS, operations)
    record = None
    version = expected
    if others:
        current = service.get_group(caller.org_id, resource_id, with_members=False).group
        if expected is not None and current.version != expected:
            raise VersionMismatch(
                "The resource changed since it was read (its version does not match If-Match)."
            )
        changed = apply_operations(GROUPS, group_writable(current), others)
        record, _, _ = group_record(canonical_document(GROUPS, changed))
        version = current.version
    changes = GroupChanges(
        record=record,
        displays=delta.displays,
        replace_members=delta.replace,
        add=list(delta.add),
        remove=list(delta.remove),
        remove_matching=delta.remove_matching,
    )
    group = service.update_group(caller.org_id, resource_id, changes, caller.actor, if_version=version)
    return Result(204, None, {"ETag": etag(group.version)})
