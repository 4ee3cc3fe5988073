"""JSON out of what DynamoDB returns: the one encoder of responses, tokens and audit objects.

Beyond plain JSON types, DynamoDB gives Decimal (numbers.to_json: int when integral), sets
(only in items written outside the API: a sorted list) and Binary/bytes (base64). Compact
separators, NaN refused; sort_keys=True makes the bytes a function of the value alone (tokens,
audit objects written again on a replay).
"""

import base64
import json
from decimal import Decimal
from typing import Any

from . import numbers


def default(value: object) -> Any:
    """json.dumps' hook for the types above. A set's members are converted first, then sorted
    (a DynamoDB set holds one type: numbers sort by value, strings and base64 as text)."""
    if isinstance(value, set | frozenset):
        return sorted(default(v) if not isinstance(v, str) else v for v in value)
    if isinstance(value, Decimal):
        return numbers.to_json(value)
    value = getattr(value, "value", value)  # boto3.dynamodb.types.Binary wraps bytes
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(
        body, default=default, allow_nan=False, separators=(",", ":"), sort_keys=sort_keys
    )
