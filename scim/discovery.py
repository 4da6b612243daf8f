"""Discovery documents (RFC 7644 section 4): ServiceProviderConfig, ResourceTypes and Schemas. They describe
exactly what this server does: PATCH, Bulk, filter, sort, ETags and cursor pagination (RFC 9865) are
supported; changing passwords is not (a password sent by an identity provider is accepted and discarded, since members sign in through the IdP)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scim2_models import Context, ResourceType, ServiceProviderConfig
from scim2_models import Schema as SchemaModel

from scim.schema import (
    ENTERPRISE_URN,
    GROUP_URN,
    RESOURCE_TYPE_URN,
    SCHEMAS,
    SPC_URN,
    USER_URN,
)

MAX_RESULTS = 1000
DEFAULT_PAGE_SIZE = 100
CURSOR_TIMEOUT = timedelta(hours=1)
MAX_BULK_OPERATIONS = 1000

_META_SCHEMAS = [
    m.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    for m in (ResourceType, ServiceProviderConfig, SchemaModel)
]


def service_provider_config(base_url: str, max_payload: int) -> dict[str, Any]:
    return {
        "schemas": [SPC_URN],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": max_payload},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        # RFC 9865: cursor pagination beside startIndex (which stays the default for existing clients).
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_PAGE_SIZE,
            "maxPageSize": MAX_RESULTS,
            "cursorTimeout": int(CURSOR_TIMEOUT.total_seconds()),
        },
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The organization's SCIM token (gateway scim-token create ORG) as a bearer token.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def resource_types(base_url: str) -> dict[str, dict[str, Any]]:
    return {
        "User": {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A member of the organization the token belongs to.",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        },
        "Group": {
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group pushed by the identity provider; groups can be mapped to roles.",
            "schema": GROUP_URN,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/Group"},
        },
    }


def schemas(base_url: str) -> dict[str, dict[str, Any]]:
    documents = [s.document for s in SCHEMAS.values()] + _META_SCHEMAS
    return {
        doc["id"]: {**doc, "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{doc['id']}"}}
        for doc in documents
    }
