"""``POST /Bulk`` (RFC 7644 section 3.7): operations run one after the other through ``dispatch``, each in
its own transaction, with ``bulkId:`` references replaced by the ids of resources created earlier in the
same request, ``failOnErrors`` honoured and ``maxOperations`` enforced (``maxPayloadSize`` is the request
size limit, enforced before the body is read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.services.provisioning import ProvisioningService
from scim.discovery import MAX_BULK_OPERATIONS
from scim.endpoints import Call, Caller, Result, dispatch
from scim.errors import ScimError, describe, error_body
from scim.request_log import remember_bulk_refusal
from scim.schema import BULK_REQUEST_URN, BULK_RESPONSE_URN, InvalidSyntax

_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def run_bulk(service: ProvisioningService, caller: Caller, body: Any) -> Result:
    if not isinstance(body, dict) or BULK_REQUEST_URN not in (body.get("schemas") or []):
        raise InvalidSyntax(f"A bulk request must be a JSON object listing the schema {BULK_REQUEST_URN}.")
    fields = {str(k).lower(): v for k, v in body.items()}
    operations = fields.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("A bulk request needs a non-empty 'Operations' list.")
    if len(operations) > MAX_BULK_OPERATIONS:
        raise ScimError(
            413, f"A bulk request may carry at most {MAX_BULK_OPERATIONS} operations (maxOperations)."
        )
    fail_on_errors = fields.get("failonerrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or fail_on_errors < 1):
        raise InvalidSyntax("failOnErrors must be a positive integer.")
    created: dict[str, str] = {}
    answers: list[dict[str, Any]] = []
    errors = 0
    for operation in operations:
        answer = _run_one(service, caller, operation, created)
        answers.append(answer)
        if int(answer["status"]) >= 400:
            errors += 1
            if fail_on_errors is not None and errors >= fail_on_errors:
                break
    return Result(200, {"schemas": [BULK_RESPONSE_URN], "Operations": answers})


def _run_one(
    service: ProvisioningService, caller: Caller, operation: Any, created: dict[str, str]
) -> dict[str, Any]:
    fields = {str(k).lower(): v for k, v in operation.items()} if isinstance(operation, dict) else {}
    method = str(fields.get("method") or "").upper()
    bulk_id = fields.get("bulkid")
    answer: dict[str, Any] = {"method": method or None}
    if bulk_id is not None:
        answer["bulkId"] = bulk_id
    try:
        if method not in _METHODS:
            raise InvalidSyntax("Each bulk operation needs a method: POST, PUT, PATCH or DELETE.")
        path = fields.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidSyntax("Each bulk operation needs a 'path' such as /Users or /Groups/{id}.")
        if method == "POST" and not isinstance(bulk_id, str):
            raise InvalidSyntax("A bulk POST needs a 'bulkId'.")
        resolve = _resolver(created)
        path = resolve(path)
        top = path.strip("/").split("/")[0].lower()
        if top not in ("users", "groups"):
            raise ScimError(404, f"Bulk operations apply to /Users and /Groups, not {path}.")
        version = fields.get("version")
        if version is not None and not isinstance(version, str):
            raise InvalidSyntax("A bulk operation's 'version' must be a string (the resource's ETag).")
        headers = {"If-Match": version} if version else {}
        result = dispatch(
            service, caller, Call(method, path, {}, _substitute(fields.get("data"), resolve), headers)
        )
    except Exception as error:
        described = describe(error)
        answer.update(status=str(described[0]), response=error_body(*described))
        remember_bulk_refusal(fields, error, described)
        return answer
    answer["status"] = str(result.status)
    if result.body is not None and "meta" in result.body:
        answer["location"] = result.body["meta"]["location"]
        answer["version"] = result.body["meta"]["version"]
        if method == "POST" and isinstance(bulk_id, str):
            created[bulk_id] = result.body["id"]
    elif result.headers.get("ETag"):
        answer["version"] = result.headers["ETag"]
        answer["location"] = f"{caller.base_url}{path}"
    return answer


def _resolver(created: dict[str, str]) -> Callable[[str], str]:
    def resolve(text: str) -> str:
        if "bulkId:" not in text:
            return text
        out = text
        for part in text.split("/"):
            if part.startswith("bulkId:"):
                key = part.removeprefix("bulkId:")
                if key not in created:
                    raise ScimError(
                        409,
                        f"bulkId {key!r} does not name a resource created earlier in this request.",
                        "invalidValue",
                    )
                out = out.replace(part, created[key])
        return out

    return resolve


def _substitute(data: Any, resolve: Callable[[str], str]) -> Any:
    """Replace ``"bulkId:x"`` values anywhere in ``data`` with the id created for ``x``."""
    if isinstance(data, str):
        return resolve(data) if data.startswith("bulkId:") else data
    if isinstance(data, list):
        return [_substitute(item, resolve) for item in data]
    if isinstance(data, dict):
        return {key: _substitute(value, resolve) for key, value in data.items()}
    return data
