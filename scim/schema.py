"""The resource schemas this server implements (RFC 7643: core User, Group, Enterprise User extension) and
what follows from them: case-insensitive attribute lookup, type checking of incoming values, and the
``attributes`` / ``excludedAttributes`` projection of outgoing resources.

The attribute definitions come from scim2-models, so ``/Schemas`` publishes exactly the RFC's definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scim2_models import Context, EnterpriseUser, Group, User

from gateway.domain.errors import InvalidInput

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"


class InvalidValue(InvalidInput):
    """A value of the wrong type or shape (400 invalidValue)."""

    code = "invalid_value"


class MutabilityError(InvalidInput):
    """An attempt to change a read-only or immutable attribute (400 mutability)."""

    code = "mutability"


class InvalidSyntax(InvalidInput):
    code = "invalid_syntax"


class NoTarget(InvalidInput):
    code = "no_target"


@dataclass
class Attribute:
    name: str
    type: str
    multi: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    case_exact: bool = False
    required: bool = False
    subs: dict[str, Attribute] = field(default_factory=dict)

    def sub(self, name: str) -> Attribute | None:
        return self.subs.get(name.lower())

    @property
    def read_only(self) -> bool:
        return self.mutability == "readOnly"


def _attribute(raw: dict[str, Any]) -> Attribute:
    attr = Attribute(
        name=raw["name"],
        type=raw["type"],
        multi=bool(raw.get("multiValued")),
        mutability=raw.get("mutability", "readWrite"),
        returned=raw.get("returned", "default"),
        case_exact=bool(raw.get("caseExact")),
        required=bool(raw.get("required")),
    )
    attr.subs = {s["name"].lower(): _attribute(s) for s in raw.get("subAttributes") or []}
    return attr


def _dump(model: Any) -> dict[str, Any]:
    return model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


@dataclass
class Schema:
    urn: str
    attributes: dict[str, Attribute]
    document: dict[str, Any]

    def attr(self, name: str) -> Attribute | None:
        return self.attributes.get(name.lower())


def _schema(model: Any) -> Schema:
    document = _dump(model)
    return Schema(
        document["id"], {a["name"].lower(): _attribute(a) for a in document["attributes"]}, document
    )


CORE_USER = _schema(User)
CORE_GROUP = _schema(Group)
ENTERPRISE_USER = _schema(EnterpriseUser)
SCHEMAS = {s.urn: s for s in (CORE_USER, CORE_GROUP, ENTERPRISE_USER)}

# Attributes every resource has (RFC 7643 section 3.1), not listed in the schemas themselves.
COMMON = {
    "id": Attribute("id", "string", mutability="readOnly", returned="always", case_exact=True),
    "externalid": Attribute("externalId", "string", case_exact=True),
    "meta": Attribute("meta", "complex", mutability="readOnly"),
    "schemas": Attribute("schemas", "reference", multi=True, returned="always", case_exact=True),
}


@dataclass(frozen=True)
class ResourceKind:
    """A resource type: its endpoint, core schema and extensions."""

    name: str
    endpoint: str
    core: Schema
    extensions: tuple[Schema, ...] = ()

    def extension(self, urn: str) -> Schema | None:
        return next((e for e in self.extensions if e.urn.lower() == urn.lower()), None)

    def lookup(self, name: str) -> Attribute | None:
        return COMMON.get(name.lower()) or self.core.attr(name)


USERS = ResourceKind("User", "/Users", CORE_USER, (ENTERPRISE_USER,))
GROUPS = ResourceKind("Group", "/Groups", CORE_GROUP)


# -- incoming values ---------------------------------------------------------------------------------------
def coerce(attr: Attribute, value: Any, where: str) -> Any:
    """The value checked against ``attr``'s type, with the usual IdP quirks accepted: booleans sent as the
    strings "True"/"False" (Entra ID), a single object where a list is expected. ``None`` means unassigned."""
    if value is None:
        return None
    if attr.multi:
        items = value if isinstance(value, list) else [value]
        out = [coerce(_single(attr), item, where) for item in items]
        return [item for item in out if item is not None and item != {}]
    if attr.type == "complex":
        if not isinstance(value, dict):
            raise InvalidValue(f"{where} must be an object.")
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = attr.sub(key)
            if sub is None or sub.read_only:
                continue  # unknown or read-only sub-attributes are ignored (RFC 7643 section 2.2)
            coerced = coerce(sub, item, f"{where}.{sub.name}")
            if coerced is not None:
                out[sub.name] = coerced
        return out
    if attr.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise InvalidValue(f"{where} must be a boolean (true or false).")
    if attr.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue(f"{where} must be an integer.")
        return value
    if attr.type == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"{where} must be a number.")
        return value
    if isinstance(value, (bool, dict | list)):
        raise InvalidValue(f"{where} must be a string.")
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise InvalidValue(f"{where} must be a string.")
    return value


def _single(attr: Attribute) -> Attribute:
    return Attribute(
        attr.name, attr.type, False, attr.mutability, attr.returned, attr.case_exact, False, attr.subs
    )


def check_schemas_list(payload: dict[str, Any]) -> None:
    """``schemas``, when sent, must be a list of URN strings (RFC 7643 section 3); ``InvalidSyntax`` otherwise."""
    for key, value in payload.items():
        is_schemas = isinstance(key, str) and key.lower() == "schemas"
        if is_schemas and (not isinstance(value, list) or not all(isinstance(urn, str) for urn in value)):
            raise InvalidSyntax("'schemas' must be a list of schema URNs.")


def canonical_document(kind: ResourceKind, payload: Any) -> dict[str, Any]:
    """The writable attributes of an incoming resource under their canonical names and types.

    Attribute names are case-insensitive; URN-qualified names (``urn:...:User:userName``, ``urn:...:
    enterprise:2.0:User:department``) are accepted; read-only attributes (``id``, ``meta``, ``groups``) and
    unknown attributes are ignored, as RFC 7644 section 3.5.1 allows; write-only ones are kept for the caller.
    """
    if not isinstance(payload, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    check_schemas_list(payload)
    doc: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        set_path_value(kind, doc, key, value)
    return doc


def set_path_value(kind: ResourceKind, doc: dict[str, Any], key: str, value: Any) -> None:
    """Store ``value`` under a possibly dotted or URN-qualified attribute name (no-path PATCH values use
    the same forms)."""
    extension = kind.extension(key)
    if extension is not None:
        if value is None:
            doc.pop(extension.urn, None)
            return
        if not isinstance(value, dict):
            raise InvalidValue(f"{extension.urn} must be an object.")
        target = doc.setdefault(extension.urn, {})
        for sub_key, sub_value in value.items():
            _set_in_schema(extension, target, sub_key, sub_value, extension.urn)
        if not target:
            doc.pop(extension.urn, None)
        return
    urn, name = split_urn(key)
    if urn is not None:
        extension = kind.extension(urn)
        if extension is not None:
            target = doc.setdefault(extension.urn, {})
            _set_in_schema(extension, target, name, value, extension.urn)
            if not target:
                doc.pop(extension.urn, None)
            return
        if urn.lower() != kind.core.urn.lower():
            return
    attr_name, _, _sub_name = name.partition(".")
    common = COMMON.get(attr_name.lower())
    if common is not None:
        if common.name == "externalId":
            _assign(doc, "externalId", coerce(common, value, "externalId"))
        return
    _set_in_schema(kind.core, doc, name, value, None)


def _set_in_schema(schema: Schema, target: dict[str, Any], name: str, value: Any, urn: str | None) -> None:
    attr_name, _, sub_name = name.partition(".")
    attr = schema.attr(attr_name)
    label = f"{urn}:{attr_name}" if urn else attr_name
    if attr is None or attr.read_only:
        return
    if not sub_name:
        _assign(target, attr.name, coerce(attr, value, attr.name))
        return
    sub = attr.sub(sub_name)
    if attr.type != "complex" or attr.multi or sub is None:
        raise InvalidValue(f"{label}.{sub_name} is not an attribute of this resource.")
    if sub.read_only:
        return
    container = dict(target.get(attr.name) or {})
    _assign(container, sub.name, coerce(sub, value, f"{attr.name}.{sub.name}"))
    _assign(target, attr.name, container or None)


def _assign(target: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value == [] or value == {}:
        target.pop(name, None)
    else:
        target[name] = value


def split_urn(key: str) -> tuple[str | None, str]:
    """``urn:...:User:name.givenName`` -> (``urn:...:User``, ``name.givenName``); other keys are unqualified."""
    if not key.lower().startswith("urn:"):
        return None, key
    urn, _, name = key.rpartition(":")
    return urn, name


# -- outgoing projection -----------------------------------------------------------------------------------
def parse_attribute_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def project(
    kind: ResourceKind, doc: dict[str, Any], attributes: list[str], excluded: list[str]
) -> dict[str, Any]:
    """Apply ``attributes`` (only these, plus those always returned) or ``excludedAttributes``."""
    if attributes:
        out = {key: doc[key] for key in ("schemas", "id") if key in doc}
        for path in attributes:
            _copy_path(kind, doc, out, path)
        return out
    if excluded:
        out = dict(doc)
        for path in excluded:
            _drop_path(kind, out, path)
        return out
    return doc


def _resolve(kind: ResourceKind, doc: dict[str, Any], path: str) -> tuple[list[str], bool]:
    """The key chain for ``path`` in a rendered document; the flag says the attribute is always returned."""
    extension = kind.extension(path)
    if extension is not None:
        return [extension.urn], False
    urn, name = split_urn(path)
    attr_name, _, sub_name = name.partition(".")
    if urn is not None and kind.extension(urn) is not None:
        ext = kind.extension(urn)
        assert ext is not None
        attr = ext.attr(attr_name)
        chain = [ext.urn, attr.name if attr else attr_name]
    else:
        attr = kind.lookup(attr_name)
        chain = [attr.name if attr else attr_name]
    if sub_name:
        sub = attr.sub(sub_name) if attr else None
        chain.append(sub.name if sub else sub_name)
    return chain, bool(attr and attr.returned == "always")


def _copy_path(kind: ResourceKind, doc: dict[str, Any], out: dict[str, Any], path: str) -> None:
    chain, _ = _resolve(kind, doc, path)
    source: Any = doc
    target = out
    for depth, key in enumerate(chain):
        if not isinstance(source, dict) or key not in source:
            return
        value = source[key]
        if depth == len(chain) - 1:
            target[key] = value
        elif isinstance(value, list):
            sub = chain[depth + 1]
            picked = [{sub: item[sub]} for item in value if isinstance(item, dict) and sub in item]
            if picked:
                target[key] = picked
            return
        else:
            target = target.setdefault(key, {})
            source = value


def _drop_path(kind: ResourceKind, out: dict[str, Any], path: str) -> None:
    chain, always = _resolve(kind, out, path)
    if always or chain[0] in ("schemas", "id"):
        return
    if len(chain) == 1:
        out.pop(chain[0], None)
        return
    parent = out.get(chain[0])
    if isinstance(parent, dict):
        parent = dict(parent)
        if len(chain) == 3 and isinstance(parent.get(chain[1]), dict):
            inner = dict(parent[chain[1]])
            inner.pop(chain[2], None)
            parent[chain[1]] = inner
        else:
            parent.pop(chain[1], None)
        out[chain[0]] = parent
    elif isinstance(parent, list):
        out[chain[0]] = [{k: v for k, v in item.items() if k != chain[1]} for item in parent]
