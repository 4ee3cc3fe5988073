"""next_token: an opaque, URL-safe handle on DynamoDB's LastEvaluatedKey.

Encoded as unpadded URL-safe base64 of the key's JSON, so it needs no escaping in a query
string. A token is trusted for nothing: it must decode to exactly {KEY: <valid id>}, otherwise
400 INVALID_TOKEN; a forged token can at most start a scan at another (valid) id.
"""

import base64
import binascii
import json
import re

from .errors import InvalidToken
from .model import KEY
from .validation import ID_PATTERN

# A key {"id": <128 chars>} as JSON is < 150 bytes; its base64 well under this.
MAX_TOKEN_CHARS = 512
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def encode(last_key: dict | None) -> str | None:
    """The token for the page after `last_key`, or None when there is no next page."""
    if not last_key:
        return None
    data = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(token: str | None) -> dict[str, str] | None:
    """The ExclusiveStartKey for a token, None for no token, or InvalidToken."""
    if token is None:
        return None
    invalid = InvalidToken("next_token is not a token this API returned")
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN_PATTERN.fullmatch(token):
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid from None
    if (
        not isinstance(key, dict)
        or key.keys() != {KEY}
        or not isinstance(key[KEY], str)
        or not ID_PATTERN.fullmatch(key[KEY])
    ):
        raise invalid
    return key
