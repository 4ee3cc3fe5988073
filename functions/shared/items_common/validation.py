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

A PATCH body is a JSON merge patch (merge.py) held to the same rules, except that an attribute
may be null (it removes the attribute): PATCH_SCHEMA is item_schema.json with null allowed for
every typed property but `id` (the key cannot be removed; the server fields stay refused). API
Gateway does not check PATCH bodies against the model (that is the handler's job). The merged
item must then still be one a PUT could write (check_merged): at most MAX_ATTRIBUTES attributes
and MAX_BODY_BYTES of JSON. (Its nesting needs no check: every merged value sits at the same
depth as in the valid item or the valid patch it comes from.)

Preconditions (dynamo.py has the contract): `If-Match` on PUT/PATCH/DELETE, header name in any
case, is `*` or a version: digits, bare or in double quotes (a strong ETag as we send it; a weak
W/"..." or a list is malformed). A PUT/PATCH body may carry `version` (a JSON integer) instead or
as well; both naming different versions, or either malformed, is 400 INVALID_VERSION. `*` with a
body version is that version (both conditions hold only then). A POST body may not carry
`version`: 400 INVALID_ITEM, like the other server fields.

Idempotency-Key (POST): 1-128 characters of A-Z a-z 0-9 . _ : -, else 400
INVALID_IDEMPOTENCY_KEY (idempotency.py has the rest).
"""

import base64
import binascii
import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import numbers
from .errors import (
    BadRequest,
    InvalidId,
    InvalidIdempotencyKey,
    InvalidItem,
    InvalidJson,
    InvalidLimit,
    InvalidVersion,
    PayloadTooLarge,
)
from .event import ProxyEvent
from .jsonify import dumps
from .model import FILE_CONTENT, FILE_KEY, ID, MAX_VERSION, SERVER_FIELDS, VERSION, reserved_fields

if TYPE_CHECKING:
    from fastjsonschema import JsonSchemaValueException

# Read once per cold start from the layer, where the file sits next to this module (Lambda
# unpacks the layer, so a path does; importlib.resources would cost a millisecond of imports).
ITEM_SCHEMA: dict[str, Any] = json.loads(
    Path(__file__).with_name("item_schema.json").read_text(encoding="utf-8")
)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The item schema for a merge patch: each typed property but `id` may also be null."""
    patch = copy.deepcopy(schema)
    patch["title"] = f"{schema['title']} merge patch"
    for name, rule in patch["properties"].items():
        if name != ID and isinstance(rule.get("type"), str):
            rule["type"] = [rule["type"], "null"]
    return patch


PATCH_SCHEMA: dict[str, Any] = _nullable(ITEM_SCHEMA)


@cache
def _validator(patch: bool = False) -> Callable[[Any], Any]:
    """The compiled check of ITEM_SCHEMA (or PATCH_SCHEMA), made by the first body it checks:
    fastjsonschema and its generated code are a large part of a cold start, and the routes
    without a body (GET, DELETE) never need them. use_default=False: the validator must never
    change the body it checks."""
    import fastjsonschema

    return fastjsonschema.compile(PATCH_SCHEMA if patch else ITEM_SCHEMA, use_default=False)


# Path ids, body ids and token ids follow the schema's one pattern (anchored: use fullmatch).
ID_PATTERN = re.compile(ITEM_SCHEMA["properties"][ID]["pattern"])
MAX_ATTRIBUTES: int = ITEM_SCHEMA["maxProperties"]
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_LIMIT_PATTERN = re.compile(r"[0-9]{1,3}")
_IF_MATCH = re.compile(r'([0-9]{1,18})|"([0-9]{1,18})"')
ANY_VERSION = "*"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ABSENT = object()


def item_id(value: object) -> str:
    """A valid item id, or InvalidId."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidId(f"id must be 1-128 characters of A-Z a-z 0-9 . _ - ({ID_PATTERN.pattern})")
    return value


def path_id(event: ProxyEvent) -> str:
    """The {id} path parameter, validated."""
    return item_id((event.path_parameters or {}).get(ID))


def header(event: ProxyEvent, name: str) -> str | None:
    """A request header, its name matched in any case (API Gateway passes names as sent)."""
    wanted = name.lower()
    for key, value in (event.raw_event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


def query_param(event: ProxyEvent, name: str) -> str | None:
    return (event.query_string_parameters or {}).get(name)


def limit(event: ProxyEvent) -> int:
    """The `limit` query parameter: an integer 1..MAX_LIMIT, DEFAULT_LIMIT when absent."""
    raw = query_param(event, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT_PATTERN.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidLimit(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _body_bytes(event: ProxyEvent) -> bytes:
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
    """JSON with every number a Decimal; NaN/Infinity refused (numbers.reject_constant), and
    a number whose exponent Decimal cannot hold (1e99999999999999999999) refused as a number."""
    try:
        text = data.decode("utf-8")
        return json.loads(
            text,
            parse_float=numbers.parse,
            parse_int=numbers.parse,
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


def _schema_message(error: "JsonSchemaValueException") -> str:
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


def check_item_shape(body: Any, patch: bool = False) -> dict:
    """`body` (as parse_json returns it: numbers are Decimals) checked against item_schema.json,
    the same file API Gateway validates with (or against PATCH_SCHEMA); InvalidItem naming the
    field otherwise."""
    validate = _validator(patch)
    from fastjsonschema import JsonSchemaValueException  # loaded by _validator

    try:
        validate(body)
    except JsonSchemaValueException as error:
        raise InvalidItem(_schema_message(error)) from None
    return body


def _checked_body(event: ProxyEvent, patch: bool = False) -> tuple[dict[str, Any], object]:
    """The body's attributes, storable: the schema's shape (PATCH_SCHEMA's for a `patch`), then
    what the schema cannot know (the table's key names, nesting, names, Unicode, numbers); and
    its raw `version` (_ABSENT when it has none), taken out before the attributes are checked."""
    body = check_item_shape(parse_json(_body_bytes(event)), patch)
    # The server fields are the schema's; these depend on the deployment's table settings.
    table_names = sorted((reserved_fields() - SERVER_FIELDS) & body.keys())
    if table_names:
        raise InvalidItem(f"{table_names[0]} is set by the server")
    version = body.pop(VERSION, _ABSENT)
    return _attributes(body, 1), version


def item_body(event: ProxyEvent) -> dict[str, Any]:
    """A POST body as a storable item (`_checked_body`); `version` is the server's."""
    body, version = _checked_body(event)
    if version is not _ABSENT:
        raise InvalidItem(f"{VERSION} is set by the server")
    return body


def creation(event: ProxyEvent) -> dict[str, Any]:
    """POST body as sent, checked: `id` optional (the schema checked it). What an
    Idempotency-Key's body is compared on (before with_id draws an id)."""
    return item_body(event)


def with_id(body: dict[str, Any], seed: str | None = None) -> dict[str, Any]:
    """The item to create: `body` with an `id` when it has none: a random uuid4, or one derived
    from `seed` (an idempotency token: a retry of the same creation names the same item)."""
    if ID in body:
        return body
    if seed is None:
        return {**body, ID: str(uuid.uuid4())}
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return {**body, ID: str(uuid.UUID(bytes=digest[:16], version=4))}


def new_item(event: ProxyEvent) -> dict[str, Any]:
    """POST body: the item to create. `id` is optional (the schema checked it); a random uuid4
    when absent."""
    return with_id(creation(event))


def _path_id_only(body: dict[str, Any], path_item_id: str) -> dict[str, Any]:
    """`body` without `id`, which is immutable: a body id must equal the path id."""
    if ID in body and body.pop(ID) != path_item_id:
        raise InvalidId("id cannot be changed: a body id must equal the path id")
    return body


def replacement(event: ProxyEvent, path_item_id: str) -> tuple[dict[str, Any], int | None]:
    """PUT body: the item's new attributes without the key, and the precondition (the version
    the replacement applies to, or None)."""
    body, version = _checked_body(event)
    expected = precondition(event, version)
    return _path_id_only(body, path_item_id), expected


def patch_body(event: ProxyEvent, path_item_id: str) -> tuple[dict[str, Any], int | None]:
    """PATCH body: a JSON merge patch of the item's attributes (null removes one) without the
    key, and the precondition. A non-object body is refused: an item is always an object."""
    body, version = _checked_body(event, patch=True)
    expected = precondition(event, version)
    return _path_id_only(body, path_item_id), expected


def check_merged(attributes: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    """A PATCH's merged attributes, if a PUT could have written them with the patch's
    file_content (`content`): InvalidItem past MAX_ATTRIBUTES, 413 PayloadTooLarge past the
    body limit, as a PUT of that body would answer. An attachment the patch keeps is not
    counted: the function may not read S3 to learn its size."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidItem(f"an item may have at most {MAX_ATTRIBUTES} attributes")
    as_put = {k: v for k, v in attributes.items() if k != FILE_KEY}
    if content is not None:
        as_put[FILE_CONTENT] = content
    if len(dumps(as_put).encode("utf-8")) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"the patched item would be larger than {MAX_BODY_BYTES} bytes, a PUT body's limit"
        )
    return attributes


def _version_in_body(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidVersion("version must be an integer")
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        raise InvalidVersion("version must be an integer")
    if not 0 <= value <= MAX_VERSION:
        raise InvalidVersion(f"version must be from 0 to {MAX_VERSION}")
    return int(value)


def _version_in_header(value: str) -> int | None:
    """If-Match as a version number; None for `*`."""
    text = value.strip()
    if text == ANY_VERSION:
        return None
    match = _IF_MATCH.fullmatch(text)
    if match is None:
        raise InvalidVersion('If-Match must be *, a version or a quoted version ("3")')
    return int(match.group(1) or match.group(2))


def precondition(event: ProxyEvent, body_version: object = _ABSENT) -> int | None:
    """The version a write applies to, from If-Match and/or the body's `version`; None when
    neither names one (no header, or `*`, and no body version)."""
    raw = header(event, "If-Match")
    from_header = None if raw is None else _version_in_header(raw)
    from_body = None if body_version is _ABSENT else _version_in_body(body_version)
    if from_header is not None and from_body is not None and from_header != from_body:
        raise InvalidVersion("If-Match and the body's version name different versions")
    return from_body if from_body is not None else from_header


def idempotency_key(event: ProxyEvent) -> str | None:
    """The Idempotency-Key header (any case), or None; InvalidIdempotencyKey if malformed."""
    value = header(event, "Idempotency-Key")
    if value is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(value):
        raise InvalidIdempotencyKey(
            "Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -"
        )
    return value
