"""Request input -> clean values, or a DomainError (4xx). Nothing here touches AWS.

The shape of a POST/PUT body is item_schema.json (JSON Schema draft-04), the one source that API
Gateway validates with too; the handlers check it again (ITEM_SCHEMA, check_item_shape), so a
direct invocation or a gateway without the model is held to the same rules. Limits, chosen so that
every input DynamoDB would refuse is refused here first (a 4xx, never a 5xx from a
ValidationException):

- body: at most MAX_BODY_BYTES of decoded bytes; larger is 413 PAYLOAD_TOO_LARGE (not 400: the
  request may be fine, only too big). Bodies sent with isBase64Encoded are decoded first.
- the schema: at most maxProperties top-level attributes (PUT names every attribute in ONE
  UpdateItem expression, and DynamoDB caps an expression at 4 KB), an `id` matching the id
  pattern, `file_content` a string, no server fields.
- what a static schema cannot say, checked by hand: the table's own key names (they depend on the
  deployment, model.reserved_fields), containers nest at most MAX_DEPTH levels counting the item
  itself (DynamoDB allows 32), attribute names at every level are non-empty, strings are valid
  Unicode (no lone surrogates, which cannot be encoded as UTF-8), and numbers (numbers.py).
"""

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

import fastjsonschema
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
from .model import ID, SERVER_FIELDS, reserved_fields

# Read once per cold start from the layer (the file sits next to this module).
ITEM_SCHEMA: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("item_schema.json").read_text(encoding="utf-8")
)
# use_default=False: the validator must never change the body it checks.
_validate_shape: Callable[[Any], Any] = fastjsonschema.compile(ITEM_SCHEMA, use_default=False)

# Path ids, body ids and token ids follow the schema's one pattern (anchored: use fullmatch).
ID_PATTERN = re.compile(ITEM_SCHEMA["properties"][ID]["pattern"])
MAX_ATTRIBUTES: int = ITEM_SCHEMA["maxProperties"]
MAX_BODY_BYTES = 64 * 1024
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


def _a_type(definition: object) -> str:
    """A schema `type` as a message reads it: a string, an object, a string or null."""
    names = definition if isinstance(definition, list) else [definition]
    return " or ".join(
        "null" if n == "null" else f"an {n}" if str(n)[:1] in "aeiou" else f"a {n}" for n in names
    )


def _schema_message(error: fastjsonschema.JsonSchemaValueException) -> str:
    """A short, safe message built from the failed rule (never the library's text)."""
    field = ".".join(str(part) for part in error.path[1:])  # path[0] is the library's "data"
    rule, definition = error.rule, error.rule_definition
    if not field:
        if rule == "type":
            return "body must be a JSON object"
        if rule == "maxProperties":
            return f"an item may have at most {definition} attributes"
        return "body does not match the item schema"
    if rule == "not":
        return f"{field} is set by the server"
    if rule == "type":
        return f"{field}: must be {_a_type(definition)}"
    if rule == "pattern":
        return f"{field}: must match {definition}"
    return f"{field}: not allowed by the item schema"


def check_item_shape(body: Any) -> dict[str, Any]:
    """`body` (as parse_json returns it: numbers are Decimals) checked against item_schema.json,
    the same file API Gateway validates with; InvalidItem naming the field otherwise."""
    try:
        _validate_shape(body)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidItem(_schema_message(error)) from None
    return body


def item_body(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """The request body as a storable item: the schema's shape, then what the schema cannot
    know (the table's key names, nesting, names, Unicode, numbers)."""
    body = check_item_shape(parse_json(_body_bytes(event)))
    # The server fields are the schema's; these depend on the deployment's table settings.
    table_names = sorted((reserved_fields() - SERVER_FIELDS) & body.keys())
    if table_names:
        raise InvalidItem(f"{table_names[0]} is set by the server")
    return _attributes(body, 1)


def new_item(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """POST body: the item to create. `id` is optional (the schema checked it); a random uuid4
    when absent."""
    body = item_body(event)
    body.setdefault(ID, str(uuid.uuid4()))
    return body


def replacement(event: APIGatewayProxyEvent, path_item_id: str) -> dict[str, Any]:
    """PUT body: the item's new attributes without the key. `id` is immutable: a body id must
    equal the path id."""
    body = item_body(event)
    if ID in body and body.pop(ID) != path_item_id:
        raise InvalidId("id cannot be changed: a body id must equal the path id")
    return body
