"""The DynamoDB table object and what both stores (plain.py, history.py) share: the head read,
bounded pages, how a lost condition looks, and the optimistic read-then-write loop of PUT and
history DELETE.
"""

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from . import rows, settings
from .aws import CONFIG
from .errors import Conflict, NotFound
from .model import UPDATED_AT

# An optimistic write retries a lost race this many times in all before answering 409.
UPDATE_ATTEMPTS = 3

T = TypeVar("T")


@cache
def table() -> Any:
    """The table, made on first use (cheap import; under moto, made inside the mock)."""
    return boto3.resource("dynamodb", config=CONFIG).Table(settings.table_name())


def head_row(item_id: str) -> dict[str, Any] | None:
    """The item's row (its head in history mode), strongly consistent, or None."""
    return table().get_item(Key=rows.key(item_id), ConsistentRead=True).get("Item")


def paged(
    operation: str, limit: int, start_key: dict | None, **kwargs: Any
) -> tuple[list[dict[str, Any]], dict | None]:
    """One page of a Scan or Query ("scan"/"query") and the key to continue from (None at the
    end). Limit is always set: a request never reads more than one bounded page."""
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    result = getattr(table(), operation)(Limit=limit, **kwargs)
    return result.get("Items", []), result.get("LastEvaluatedKey")


def condition_failed(error: ClientError) -> bool:
    """A write's condition did not hold: a plain ConditionalCheckFailed, or a transaction that
    was cancelled for one (any other cancellation reason, e.g. throttling, is not a race)."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    if reasons:
        return "ConditionalCheckFailed" in reasons and set(reasons) <= {
            "ConditionalCheckFailed",
            "None",
        }
    return "ConditionalCheckFailed" in error.response.get("Error", {}).get("Message", "")


def not_found(item_id: str) -> NotFound:
    return NotFound(f"item {item_id} does not exist")


def unchanged_since(current: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The condition (expression, names, values) that the row still has `current`'s updated_at:
    the optimistic lock. A row written outside the API has none: lock on its still having none.
    """
    names = {"#pk": settings.partition_key(), "#updated": UPDATED_AT}
    if UPDATED_AT in current:
        return "attribute_exists(#pk) AND #updated = :prev", names, {":prev": current[UPDATED_AT]}
    return "attribute_exists(#pk) AND attribute_not_exists(#updated)", names, {}


def optimistic(
    item_id: str,
    read: Callable[[str], dict[str, Any] | None],
    write: Callable[[dict[str, Any]], T],
) -> T:
    """read -> write(current) with a condition on `current`, retried from a fresh read when the
    condition fails (a concurrent writer won): NotFound once the item is gone, Conflict after
    UPDATE_ATTEMPTS lost races. Never an upsert: write only ever sees an item that exists."""
    for _ in range(UPDATE_ATTEMPTS):
        current = read(item_id)
        if current is None:
            raise not_found(item_id)
        try:
            return write(current)
        except ClientError as error:
            if not condition_failed(error):
                raise
    raise Conflict(f"item {item_id} was modified concurrently; retry")
