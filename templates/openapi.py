"""The API's OpenAPI 3.0.3 document, built from the catalog's route rows and the item schema
file, so the published contract cannot drift from the routes, statuses and body rules the
template and the handlers use. No API Gateway specifics: the document describes the API a
client sees, wherever it is served from."""

import copy
import tomllib
from pathlib import Path
from typing import Any

from .catalog import COLLECTION, ROUTES, FunctionSpec
from .item_schema import ITEM_SCHEMA

OPENAPI_VERSION = "3.0.3"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
ID_PATTERN: str = ITEM_SCHEMA["properties"]["id"]["pattern"]
IDEMPOTENCY_KEY_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"
MAX_LIMIT = 100  # items_common.validation.MAX_LIMIT (the layer is not importable here)
INTERNAL = 500  # every operation may fail this way, so it is not in the catalog's rows
UNAVAILABLE = 503  # answered with a Retry-After header

# Headers a request may carry, by method: preconditions on writes to an existing item, and a
# once-only key on creation.
HEADERS_BY_METHOD: dict[str, tuple[str, ...]] = {
    "POST": ("IdempotencyKey",),
    "PUT": ("IfMatch",),
    "PATCH": ("IfMatch",),
    "DELETE": ("IfMatch",),
}
# Request bodies, by method: a whole item (POST, PUT) or a merge patch of one (PATCH).
BODY_BY_METHOD: dict[str, tuple[str, tuple[str, ...]]] = {
    "POST": ("ItemInput", (JSON,)),
    "PUT": ("ItemInput", (JSON,)),
    "PATCH": ("ItemMergePatch", (MERGE_PATCH, JSON)),
}
# Success bodies of the routes that do not answer with one item; a route missing here answers
# with the item (and its ETag), which is what every route under {id} without a suffix does.
SUCCESS_BODY: dict[str, str] = {
    "health": "Health",
    "openapi": "OpenApiDocument",
    "list_items": "ItemPage",
    "list_versions": "VersionPage",
}
PAGES = ("ItemPage", "VersionPage")  # bodies of routes that take `limit` and `next_token`

STATUS_DESCRIPTIONS: dict[int, str] = {
    200: "OK.",
    201: "Created: the new item.",
    204: "Deleted; no content.",
    400: "Invalid request: body, id, limit or next_token (error.code says which).",
    404: "No item with this id.",
    409: "Conflict: the item already exists, or a concurrent write changed it first.",
    412: "Precondition failed: If-Match does not name the item's current version.",
    413: "Body larger than 64 KiB.",
    422: "Idempotency-Key already used with a different body.",
    500: "Internal error (details are logged, never returned).",
    503: "AWS throttled (THROTTLED), failed past the retries (UNAVAILABLE) or the request ran out "
    "of time (TIMEOUT); a write's outcome is then unknown. Retry after Retry-After seconds, with "
    "the same If-Match or Idempotency-Key.",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def to_oas30(schema: Any) -> Any:
    """A draft-04 schema as an OpenAPI 3.0 Schema Object: `$schema` dropped and `type` lists
    with null turned into `nullable` (3.0 has no type arrays). The rest of what item_schema.json
    uses (properties, pattern, maxProperties, `not: {}`) means the same in both."""
    if isinstance(schema, list):
        return [to_oas30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_oas30(v) for k, v in schema.items() if k != "$schema"}
    types = schema.get("type")
    if isinstance(types, list):
        rest = [t for t in types if t != "null"]
        if len(rest) != 1:
            raise ValueError(f"OpenAPI 3.0 cannot express type {types}")
        out["type"] = rest[0]
        if len(rest) < len(types):
            out["nullable"] = True
    return out


def merge_patch(schema: dict) -> dict:
    """The item schema for a JSON merge patch (RFC 7386): a null value removes that attribute,
    so each typed property may also be null. `id` stays non-null (the key cannot be removed) and
    the server fields stay `not: {}` (a client may neither set nor remove them)."""
    patch = copy.deepcopy(schema)
    patch["title"] = f"{schema.get('title', 'Item')} merge patch"
    patch["description"] = (
        "The body of PATCH: attributes to set; an attribute whose value is null is removed."
    )
    for name, prop in patch.get("properties", {}).items():
        if name != "id" and "type" in prop:
            prop["nullable"] = True
    return patch


def _item() -> dict:
    """An item as the API answers with it: any attributes, plus the server's fields."""
    return {
        "type": "object",
        "required": ["id", "version", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "version": {
                "type": "integer",
                "minimum": 1,
                "description": "1 on creation, one more per write; the ETag and If-Match value.",
            },
            "created_at": {"type": "string", "description": "ISO-8601 UTC, set by the server."},
            "updated_at": {"type": "string", "description": "ISO-8601 UTC, set by the server."},
            "file_content": {"type": "string", "description": "The item's attachment."},
        },
        "additionalProperties": True,
    }


def _page(entry: str, description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "required": ["items", "count", "next_token"],
        "properties": {
            "items": {"type": "array", "items": _ref("schemas", entry)},
            "count": {"type": "integer", "minimum": 0},
            "next_token": {
                "type": "string",
                "nullable": True,
                "description": "Pass as next_token for the next page; null on the last page.",
            },
        },
    }


def _schemas() -> dict:
    return {
        "Item": _item(),
        "ItemInput": to_oas30(ITEM_SCHEMA),
        "ItemMergePatch": merge_patch(to_oas30(ITEM_SCHEMA)),
        "ItemPage": _page("Item", "One page of items."),
        "Version": {
            "type": "object",
            "description": "One version of an item: its state then, or a deletion (tombstone).",
            "required": ["id", "version", "deleted"],
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "version": {"type": "integer"},
                "deleted": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
        "VersionPage": _page("Version", "One page of an item's versions, newest first."),
        "Health": {
            "type": "object",
            "required": ["status", "stage"],
            "properties": {
                "status": {"type": "string", "enum": ["ok"]},
                "stage": {"type": "string"},
            },
        },
        "OpenApiDocument": {"type": "object", "description": "This document."},
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable, e.g. NOT_FOUND."},
                        "message": {"type": "string", "description": "For humans."},
                    },
                }
            },
        },
    }


def request_headers() -> list[str]:
    """The request headers the API reads (beyond Content-Type), as the document declares them."""
    return sorted(p["name"] for p in _parameters().values() if p["in"] == "header")


def _parameters() -> dict:
    return {
        "Id": {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Page size (default 50).",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
        "NextToken": {
            "name": "next_token",
            "in": "query",
            "required": False,
            "description": "The previous page's next_token.",
            "schema": {"type": "string"},
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": "Write only if the item's current ETag matches (412 otherwise).",
            "schema": {"type": "string"},
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Create at most once per key: a retry with the same body gets the "
            "first answer; the same key with another body gets 422.",
            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
        },
    }


def _json_response(description: str, schema: str, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {"description": description}
    if headers:
        response["headers"] = headers
    response["content"] = {JSON: {"schema": _ref("schemas", schema)}}
    return response


def _response(spec: FunctionSpec, status: int) -> dict:
    """One status of one route: the error body for 4xx/5xx, nothing for 204, else the success
    body (with the item's ETag when the body is an item)."""
    description = STATUS_DESCRIPTIONS[status]
    if status == UNAVAILABLE:
        return _json_response(description, "Error", {"Retry-After": _ref("headers", "RetryAfter")})
    if status >= 400:
        return _json_response(description, "Error")
    if status == 204:
        return {"description": description}
    body = SUCCESS_BODY.get(spec.name, "Item")
    headers = {"ETag": _ref("headers", "ETag")} if body == "Item" else None
    return _json_response(description, body, headers)


def _operation(spec: FunctionSpec) -> dict:
    parameters = [_ref("parameters", "Id") for s in spec.path if s == "{id}"]
    if SUCCESS_BODY.get(spec.name) in PAGES:
        parameters += [_ref("parameters", "Limit"), _ref("parameters", "NextToken")]
    parameters += [_ref("parameters", h) for h in HEADERS_BY_METHOD.get(spec.method or "", ())]
    operation: dict[str, Any] = {"operationId": spec.name, "summary": spec.description}
    if parameters:
        operation["parameters"] = parameters
    if spec.method in BODY_BY_METHOD:
        schema, media_types = BODY_BY_METHOD[spec.method]
        operation["requestBody"] = {
            "required": True,
            "content": {m: {"schema": _ref("schemas", schema)} for m in media_types},
        }
    statuses = sorted({*spec.statuses, INTERNAL})
    operation["responses"] = {str(s): _response(spec, s) for s in statuses}
    return operation


def path_of(spec: FunctionSpec, prefix: str) -> str:
    """The route's path with the collection segment named `prefix`."""
    return "/" + "/".join(prefix if s == COLLECTION else s for s in spec.path)


def _version() -> str:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)["project"]["version"]


def document(prefix: str = COLLECTION) -> dict:
    """The OpenAPI document for a deployment whose collection segment is `prefix`. Built from
    constants and files only, in catalog order, so equal inputs give byte-identical JSON."""
    paths: dict[str, dict] = {}
    for spec in ROUTES:
        paths.setdefault(path_of(spec, prefix), {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "items-api",
            "version": _version(),
            "description": "CRUD on items, with versions, preconditions and merge patch.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": {
                "ETag": {
                    "description": "The item's version as an entity tag; send it back in "
                    "If-Match to write only over that version.",
                    "schema": {"type": "string"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
        },
    }
