"""The DynamoDB table object and what both stores (plain.py, history.py) share: the head read,
bounded pages, how a lost condition looks, and the optimistic read-then-write loop of PUT, PATCH
and DELETE, with the preconditions a client may set on them.

Versions and preconditions (the contract of every write to an existing item, in both modes):

- Every item has an integer `version` (model.VERSION): 1 on creation, one more per write. It is
  the optimistic lock: a write reads the item, then writes conditionally on the row still having
  the version it read (`unchanged`), so no write is ever based on a state it did not see. A row
  without one (written before versions, or outside the API) is version 0 and is locked on its
  still having none.
- A client may name the version its change applies to: `If-Match: "<n>"` (or `<n>`), or a
  `version` field in a PUT/PATCH body (validation.precondition). Then, if the current version is
  another, the answer is 412 PRECONDITION_FAILED and nothing is written. That is decided by
  DynamoDB, not only by our read: the conditional write names the same version, so a writer that
  gets in between our read and our write makes our write fail, and the fresh read then shows the
  other version (412). `If-Match: *` means "any existing version": the same as no precondition.
- Without a precondition (or with `*`) the write applies to whatever is current: a lost race is
  retried from a fresh read, UPDATE_ATTEMPTS times in all, then answered 409 CONFLICT.
- A history-mode write is a transaction, which DynamoDB may cancel for TransactionConflict
  (another request was writing the item at that moment) or ThrottlingError: that is retried
  the same way, after a jittered backoff (`pause`). If the item's version moved meanwhile,
  someone else's write won: the fresh read makes it a 412 (If-Match) or the next attempt, and
  409 after the last one. If it never moved (contention with no winner, or throttling), the
  answer after the last attempt is 503 THROTTLED with Retry-After.
- So 409 CONFLICT means the id already exists (POST) or the write kept losing races without a
  precondition (retrying is safe); 412 PRECONDITION_FAILED means the client's version is stale
  (re-read the item before deciding again). A missing item is 404 either way: never an upsert.

Versions count writes within one life of an id: a plain-mode DELETE removes the row, and a POST
of the same id (or a re-creation after a history-mode tombstone) starts again at 1, so a client
holding a version from a previous life can match the new one.
"""

import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from . import aws, rows, settings
from .aws import CONTENTION_REASONS, cancellation_reasons, contended, error_code
from .errors import Conflict, NotFound, PreconditionFailed, Throttled
from .model import VERSION, version_number

# An optimistic write retries a lost race this many times in all before answering 409.
UPDATE_ATTEMPTS = 3
# The jittered backoff before retrying a contended transaction: up to BACKOFF_S * 2**n.
BACKOFF_S = 0.05

T = TypeVar("T")


@cache
def table() -> Any:
    """The table, made on first use (cheap import; under moto, made inside the mock)."""
    return aws.resource("dynamodb").Table(settings.table_name())


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
    code = error_code(error)
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = cancellation_reasons(error)
    if reasons:
        # a condition that failed decides, whatever else was contended in the same transaction
        return "ConditionalCheckFailed" in reasons and set(reasons) <= {
            "ConditionalCheckFailed",
            "None",
            *CONTENTION_REASONS,
        }
    return "ConditionalCheckFailed" in error.response.get("Error", {}).get("Message", "")


def not_found(item_id: str) -> NotFound:
    return NotFound(f"item {item_id} does not exist")


def unchanged(current: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The condition (expression, names, values) that the row exists and still has `current`'s
    version: the optimistic lock. The stored value itself is compared (whatever a foreign row
    holds there); a row without one is locked on its still having none."""
    names = {"#pk": settings.partition_key(), "#version": VERSION}
    if VERSION in current:
        return "attribute_exists(#pk) AND #version = :prev", names, {":prev": current[VERSION]}
    return "attribute_exists(#pk) AND attribute_not_exists(#version)", names, {}


def next_version(current: dict[str, Any]) -> int:
    """The version of the write that follows `current`."""
    return version_number(current.get(VERSION)) + 1


def check_precondition(item_id: str, current: dict[str, Any], expected: int | None) -> None:
    """PreconditionFailed unless `expected` is None or `current`'s version."""
    if expected is not None and version_number(current.get(VERSION)) != expected:
        raise PreconditionFailed(
            f"item {item_id} is not at version {expected}; read it again before writing"
        )


# os.urandom on every draw: environments restored from one SnapStart snapshot share `random`'s
# state, and would pause in step (snapstart.py).
_JITTER = random.SystemRandom()


def pause(attempt: int) -> None:
    """Full-jitter backoff before retry `attempt` (1, 2, ...): contending writers spread out."""
    time.sleep(_JITTER.uniform(0, BACKOFF_S * 2**attempt))


def optimistic(
    item_id: str,
    read: Callable[[str], dict[str, Any] | None],
    write: Callable[[dict[str, Any]], T],
    expected: int | None = None,
) -> T:
    """read -> write(current) with a condition on `current`'s version (`unchanged`), retried from
    a fresh read when the condition fails (a concurrent writer won) or the transaction was
    contended (aws.contended, after `pause`): NotFound once the item is gone,
    PreconditionFailed once its version is not `expected` (when given), and after
    UPDATE_ATTEMPTS: Conflict if the version ever moved (others' writes won), Throttled if it
    never did. Never an upsert: write only ever sees an item that exists."""
    versions: set[Any] = set()
    for attempt in range(UPDATE_ATTEMPTS):
        current = read(item_id)
        if current is None:
            raise not_found(item_id)
        versions.add(current.get(VERSION))
        check_precondition(item_id, current, expected)
        try:
            return write(current)
        except ClientError as error:
            if contended(error):
                if attempt + 1 < UPDATE_ATTEMPTS:
                    pause(attempt + 1)
                continue
            if not condition_failed(error):
                raise
            versions.add(_LOST)
    if len(versions) == 1:
        raise Throttled(f"item {item_id} is busy: its writes keep being cancelled; retry later")
    raise Conflict(f"item {item_id} was modified concurrently; retry")


# Stands for "a condition failed": the row changed after we read it, whatever we read next.
_LOST = object()
