"""next_token: an opaque, URL-safe handle on DynamoDB's LastEvaluatedKey.

Encoded as unpadded URL-safe base64 of the key's JSON, so it needs no escaping in a query
string. A token is trusted for nothing: it must decode to exactly the table's key, that is
{PARTITION_KEY: <valid id>} in plain mode and {PARTITION_KEY: <valid id>, SORT_KEY: <integer
0..2**63-1>} in history mode (rows.key_names), otherwise 400 INVALID_TOKEN; a forged token can at
most start a scan at another (valid) key. A versions token must also name the listed item.
"""

import base64
import binascii
import json
import re
from typing import Any

from . import jsonify, rows
from .errors import InvalidToken
from .validation import ID_PATTERN

# A two-attribute key with a 255-character name and a 128-character id is < 450 bytes of JSON;
# its base64 is under this.
MAX_TOKEN_CHARS = 1024
MAX_SORT_KEY = 2**63 - 1
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def encode(last_key: dict | None) -> str | None:
    """The token for the page after `last_key`, or None when there is no next page."""
    if not last_key:
        return None
    data = jsonify.dumps(last_key, sort_keys=True).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _valid_key(key: object, item_id: str | None) -> bool:
    names = rows.key_names()
    if not isinstance(key, dict) or key.keys() != set(names):
        return False
    partition = key[names[0]]
    if not isinstance(partition, str) or not ID_PATTERN.fullmatch(partition):
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
