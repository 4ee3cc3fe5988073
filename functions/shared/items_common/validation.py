"""Request input -> clean values, or a DomainError (4xx). Nothing here touches AWS.

Limits, chosen so that every input DynamoDB would refuse is refused here first (a 4xx, never a
5xx from a ValidationException):

- body: at most MAX_BODY_BYTES of decoded bytes; larger is 413 PAYLOAD_TOO_LARGE (not 400: the
  request may be fine, only too big). Bodies sent with isBase64Encoded are decoded first.
- at most MAX_ATTRIBUTES top-level attributes: PUT names every attribute in ONE UpdateItem
  expression, and DynamoDB caps an expression at 4 KB.
- containers nest at most MAX_DEPTH levels counting the item itself (DynamoDB allows 32).
- attribute names (at every level) are non-empty; strings must be valid Unicode (no lone
  surrogates, which cannot be encoded as UTF-8).
"""

import base64
import binascii
import json
import re
import uuid
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from . import numbers
from .errors import (
    BadRequest,
    InvalidId,
    InvalidItem,
    InvalidJson,
    InvalidLimit,
    PayloadTooLarge,
)
from .model import FILE_CONTENT, ID, reserved_fields

ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_BODY_BYTES = 64 * 1024
MAX_ATTRIBUTES = 100
MAX_DEPTH = 32
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_LIMIT_PATTERN = re.compile(r"[0-9]{1,3}")


def item_id(value: object) -> str:
    """A valid item id, or InvalidId."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidId(f"id must be 1-128 characters of A-Z a-z 0-9 . _ - ({ID_PATTERN.pattern})")
    return value


def path_id(event: APIGatewayProxyEvent) -> str:
    """The {id} path parameter, validated."""
    return item_id((event.path_parameters or {}).get(ID))


def query_param(event: APIGatewayProxyEvent, name: str) -> str | None:
    return (event.query_string_parameters or {}).get(name)


def limit(event: APIGatewayProxyEvent) -> int:
    """The `limit` query parameter: an integer 1..MAX_LIMIT, DEFAULT_LIMIT when absent."""
    raw = query_param(event, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT_PATTERN.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidLimit(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _body_bytes(event: APIGatewayProxyEvent) -> bytes:
    body = event.body
    if not body:
        raise BadRequest("a JSON object body is required")
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidJson("body is not valid base64") from None
    else:
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson("body is not valid UTF-8") from None
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body must be at most {MAX_BODY_BYTES} bytes")
    if not data:
        raise BadRequest("a JSON object body is required")
    return data


def parse_json(data: bytes) -> Any:
    """JSON with every number a Decimal; NaN/Infinity refused (numbers.reject_constant)."""
    try:
        text = data.decode("utf-8")
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=numbers.reject_constant,
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidJson("body is not valid JSON") from None


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidItem("strings must be valid Unicode") from None
    return value


def _value(value: Any, depth: int) -> Any:
    """A JSON value made storable: numbers via numbers.to_stored, containers recursively."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise InvalidItem(f"objects and arrays may nest at most {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return _attributes(value, depth + 1)
    if isinstance(value, list):
        return [_value(v, depth + 1) for v in value]
    if isinstance(value, Decimal):
        return numbers.to_stored(value)
    if isinstance(value, str):
        return _text(value)
    return value  # bool or None: JSON has nothing else


def _attributes(obj: dict, depth: int) -> dict:
    out = {}
    for name, value in obj.items():
        if not name:
            raise InvalidItem("attribute names must be non-empty strings")
        out[_text(name)] = _value(value, depth)
    return out


def item_body(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """The request body as a storable item: a JSON object without server fields (nor the
    table's own key names, model.reserved_fields), whose optional attachment is a string."""
    body = parse_json(_body_bytes(event))
    if not isinstance(body, dict):
        raise InvalidItem("body must be a JSON object")
    if len(body) > MAX_ATTRIBUTES:
        raise InvalidItem(f"an item may have at most {MAX_ATTRIBUTES} attributes")
    reserved = reserved_fields()
    if reserved & body.keys():
        raise InvalidItem(f"{', '.join(sorted(reserved))} are set by the server")
    if not isinstance(body.get(FILE_CONTENT, ""), str):
        raise InvalidItem(f"{FILE_CONTENT} must be a string")
    return _attributes(body, 1)


def new_item(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """POST body: the item to create. `id` is optional; a random uuid4 when absent."""
    body = item_body(event)
    body[ID] = item_id(body[ID]) if ID in body else str(uuid.uuid4())
    return body


def replacement(event: APIGatewayProxyEvent, path_item_id: str) -> dict[str, Any]:
    """PUT body: the item's new attributes without the key. `id` is immutable: a body id must
    equal the path id."""
    body = item_body(event)
    if ID in body and body.pop(ID) != path_item_id:
        raise InvalidId("id cannot be changed: a body id must equal the path id")
    return body
