"""History mode (settings.sort_key() set): every write is kept as a version.

Each id has a HEAD row (sort key rows.HEAD = 0) with its current state, or a tombstone (the
system attribute deleted_at) once deleted, and one VERSION row per write, whose sort key is the
write's time (model.version_of(updated_at): integer microseconds since the epoch) and which holds
the full state after that write, including the item's integer `version` (1 on creation, one more
per write, the tombstone included); a delete's version row is the tombstone. Sort keys strictly
increase per item because updated_at does (model.later_than, and a re-create must be later than
the tombstone it replaces), so the rows stay in write order across the lives of an id, while the
`version` numbers count the writes of one life (a re-creation starts again at 1).

Every write is ONE TransactWriteItems of two Puts (so the roles need only dynamodb:PutItem): the
head, conditional, and the version, on attribute_not_exists. Updates and deletes read the head
first and lock on its `version` and its being live, like plain mode (dynamo.optimistic, which
also applies If-Match preconditions).

Tombstones: {id, created_at of the deleted item, updated_at = deleted_at = the delete's time,
version}; nothing else. The head of a deleted id answers 404 everywhere; POST may start the id
again.
"""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from . import rows, settings
from .aws import contended
from .dynamo import (
    UPDATE_ATTEMPTS,
    condition_failed,
    head_row,
    next_version,
    not_found,
    optimistic,
    paged,
    pause,
    table,
    unchanged,
)
from .errors import Conflict, Throttled
from .model import (
    CREATED_AT,
    DELETED_AT,
    FIRST_VERSION,
    ID,
    IDEMPOTENCY_TOKEN,
    UPDATED_AT,
    VERSION,
    later_than,
    now,
    version_of,
)


def read(item_id: str) -> dict[str, Any] | None:
    """The current item (strongly consistent), or None when it never existed or was deleted."""
    head = head_row(item_id)
    return None if head is None or DELETED_AT in head else rows.to_item(head)


def _write(item: dict[str, Any], condition: str, names: dict, values: dict) -> None:
    """The head (on `condition`) and a new version row with `item`, in one transaction."""
    head: dict[str, Any] = {
        "TableName": table().name,
        "Item": rows.to_row(item),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
    }
    if values:
        head["ExpressionAttributeValues"] = values
    version = {
        "TableName": table().name,
        "Item": rows.to_row(item, version_of(item[UPDATED_AT])),
        "ConditionExpression": "attribute_not_exists(#pk)",
        "ExpressionAttributeNames": {"#pk": settings.partition_key()},
    }
    table().meta.client.transact_write_items(TransactItems=[{"Put": head}, {"Put": version}])


def create(item: dict[str, Any]) -> dict[str, Any]:
    """A new item, or a new life of a deleted id; Conflict if a live head exists.

    The condition alone decides, with no read first: no head, or a tombstone older
    than this write (keeping versions increasing; a tombstone from a clock ahead of ours gives
    409 until ours catches up, never a version out of order).

    A transaction cancelled for contention (aws.contended) is tried again with a new stamp after
    a jittered pause, UPDATE_ATTEMPTS times in all, then Throttled.
    """
    names = {"#pk": settings.partition_key(), "#deleted": DELETED_AT, "#updated": UPDATED_AT}
    condition = "attribute_not_exists(#pk) OR (attribute_exists(#deleted) AND #updated < :stamp)"
    for attempt in range(UPDATE_ATTEMPTS):
        if attempt:
            pause(attempt)
        stamp = now()
        new = {**item, CREATED_AT: stamp, UPDATED_AT: stamp, VERSION: FIRST_VERSION}
        try:
            _write(new, condition, names, {":stamp": stamp})
            return new
        except ClientError as error:
            if condition_failed(error):
                raise Conflict(f"item {item[ID]} already exists") from None
            if not contended(error):
                raise
    raise Throttled(f"item {item[ID]} is busy: its creation keeps being cancelled; retry later")


def _advance(
    item_id: str,
    attributes_after: Callable[[dict[str, Any]], dict[str, Any]],
    expected: int | None,
    *,
    tombstone: bool = False,
) -> dict:
    """Read the live head and write what follows it (head + version), locked on the head's
    version and its being live, and retried on a lost race (dynamo.optimistic, which also checks
    `expected`): `attributes_after(current)` with created_at and the idempotency token kept, an
    updated_at strictly after the head's and the next version; a tombstone also gets
    deleted_at."""

    def write(current: dict[str, Any]) -> dict[str, Any]:
        stamp = later_than(current.get(UPDATED_AT))
        kept = {k: current[k] for k in (CREATED_AT, IDEMPOTENCY_TOKEN) if k in current}
        item = {ID: item_id, **attributes_after(current), **kept, UPDATED_AT: stamp}
        item[VERSION] = next_version(current)
        if tombstone:
            item[DELETED_AT] = stamp
        condition, names, values = unchanged(current)
        names["#deleted"] = DELETED_AT
        _write(item, f"{condition} AND attribute_not_exists(#deleted)", names, values)
        return item

    return optimistic(item_id, read, write, expected)


def update(
    item_id: str,
    attributes_after: Callable[[dict[str, Any]], dict[str, Any]],
    expected: int | None = None,
) -> dict[str, Any]:
    """PUT/PATCH: a new state and version of a live item, with the attributes
    `attributes_after(current)`; NotFound for a missing or deleted one."""
    return _advance(item_id, attributes_after, expected)


def replace(item_id: str, attributes: dict[str, Any], expected: int | None = None) -> dict:
    """PUT: the body's attributes as the item's new state (see update)."""
    return update(item_id, lambda _: attributes, expected)


def delete(item_id: str, expected: int | None = None) -> None:
    """Soft delete: a tombstone head and version; NotFound for a missing or deleted item.
    Returns None: nothing is removed for good, so attachments stay (versions reference them)."""
    _advance(item_id, lambda _: {}, expected, tombstone=True)


def page(limit: int, start_key: dict | None) -> tuple[list[dict[str, Any]], dict | None]:
    """One Scan page of live heads, and the key to continue from.

    Limit bounds the rows READ (heads, tombstones and versions alike), the filter then keeps the
    live heads: a page may hold fewer than `limit` items, even none, while next_token continues.
    Only a null next_token means the end.
    """
    found, last_key = paged(
        "scan",
        limit,
        start_key,
        FilterExpression="#sk = :head AND attribute_not_exists(#deleted)",
        ExpressionAttributeNames={"#sk": settings.sort_key(), "#deleted": DELETED_AT},
        ExpressionAttributeValues={":head": rows.HEAD},
    )
    return [rows.to_item(r) for r in found], last_key


def versions(
    item_id: str, limit: int, start_key: dict | None
) -> tuple[list[dict[str, Any]], dict | None]:
    """One page of the item's versions, newest first (rows.as_version); NotFound when the id has
    none. A Query on the key only (no filter), so a page is full unless it is the last."""
    found, last_key = paged(
        "query",
        limit,
        start_key,
        KeyConditionExpression="#pk = :id AND #sk > :head",
        ExpressionAttributeNames={"#pk": settings.partition_key(), "#sk": settings.sort_key()},
        ExpressionAttributeValues={":id": item_id, ":head": rows.HEAD},
        ScanIndexForward=False,
    )
    if not found and not start_key:
        raise not_found(item_id)
    return [rows.as_version(r) for r in found], last_key
