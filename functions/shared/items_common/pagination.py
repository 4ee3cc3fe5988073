"""next_token: an opaque, URL-safe handle on DynamoDB's LastEvaluatedKey.

Encoded as unpadded URL-safe base64 of the key's JSON, so it needs no escaping in a query
string. A token is trusted for nothing: it must decode to exactly the table's key, that is
{PARTITION_KEY: <string>} in plain mode and {PARTITION_KEY: <string>, SORT_KEY: <integer
0..2**63-1>} in history mode (rows.key_names), otherwise 400 INVALID_TOKEN; a forged token can
at most start a scan of this table at another key. A versions token must also name the listed
item.

The partition value is any string DynamoDB takes as a key (1 to 2,048 bytes of UTF-8), not only
the API's id pattern: rows written by other tools are listed too, and the token after such a
row must be accepted, or every later page would be out of reach. A value DynamoDB would refuse
(empty, too long, a lone surrogate) is refused here, so a tampered token is a 400, never a 500.
"""

import base64
import binascii
import json
import re
from typing import Any

from . import jsonify, rows
from .errors import InvalidToken

MAX_KEY_BYTES = 2048  # DynamoDB's limit for a partition key value
MAX_NAME_CHARS = 255  # an attribute name (the key name parameters allow no more)
MAX_SORT_KEY = 2**63 - 1
# The longest token encode() gives: JSON escapes a UTF-8 byte into at most 6 characters
# (\u0001), and base64 makes 4 characters of 3.
_MAX_JSON = 6 * MAX_KEY_BYTES + 2 * (6 * MAX_NAME_CHARS + 4) + len(str(MAX_SORT_KEY)) + 8
MAX_TOKEN_CHARS = 4 * -(-_MAX_JSON // 3)
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def encode(last_key: dict | None) -> str | None:
    """The token for the page after `last_key`, or None when there is no next page."""
    if not last_key:
        return None
    data = jsonify.dumps(last_key, sort_keys=True).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _storable(value: str) -> bool:
    """Whether DynamoDB takes `value` as a string key."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
        return False
    return 0 < size <= MAX_KEY_BYTES


def _valid_key(key: object, item_id: str | None) -> bool:
    names = rows.key_names()
    if not isinstance(key, dict) or key.keys() != set(names):
        return False
    partition = key[names[0]]
    if not isinstance(partition, str) or not _storable(partition):
        return False
    if item_id is not None and partition != item_id:
        return False
    if len(names) == 1:
        return True
    sort = key[names[1]]
    return type(sort) is int and 0 <= sort <= MAX_SORT_KEY  # not bool, not float


def decode(token: str | None, item_id: str | None = None) -> dict[str, Any] | None:
    """The ExclusiveStartKey for a token, None for no token, or InvalidToken. With `item_id`
    (a versions listing), the token must continue that item's listing."""
    if token is None:
        return None
    invalid = InvalidToken("next_token is not a token this API returned")
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN_PATTERN.fullmatch(token):
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid from None
    if not _valid_key(key, item_id):
        raise invalid
    return key


def body(found: list[dict[str, Any]], last_key: dict | None) -> dict[str, Any]:
    """The JSON body of one page of a listing (items, versions)."""
    return {"items": found, "count": len(found), "next_token": encode(last_key)}
