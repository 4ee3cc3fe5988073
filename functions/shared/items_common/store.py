"""The items table: every DynamoDB call of the API, each conditional where it matters.

Domain outcomes (missing item, existing id, lost race) become NotFound/Conflict; any other AWS
error propagates and is answered as a generic 500 by http.handle.
"""

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .errors import Conflict, NotFound
from .model import CREATED_AT, KEY, UPDATED_AT, later_than, now

# PUT retries a lost optimistic race this many times in all before answering 409.
UPDATE_ATTEMPTS = 3
_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"})


@cache
def table() -> Any:
    """The table, made on first use (cheap import; under moto, made inside the mock)."""
    return boto3.resource("dynamodb", config=_CONFIG).Table(os.environ["TABLE_NAME"])


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _not_found(item_id: str) -> NotFound:
    return NotFound(f"item {item_id} does not exist")


def read(item_id: str) -> dict[str, Any] | None:
    """The item (strongly consistent read), or None."""
    return table().get_item(Key={KEY: item_id}, ConsistentRead=True).get("Item")


def get(item_id: str) -> dict[str, Any]:
    """The item, or NotFound."""
    item = read(item_id)
    if item is None:
        raise _not_found(item_id)
    return item


def create(item: dict[str, Any]) -> dict[str, Any]:
    """Store a new item with both timestamps; Conflict if its id exists (never overwrites)."""
    stamp = now()
    item = {**item, CREATED_AT: stamp, UPDATED_AT: stamp}
    try:
        table().put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": KEY},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise Conflict(f"item {item[KEY]} already exists") from None
        raise
    return item


def delete(item_id: str) -> None:
    """Delete an existing item; NotFound if there is none."""
    try:
        table().delete_item(
            Key={KEY: item_id},
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": KEY},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise _not_found(item_id) from None
        raise


def page(limit: int, start_key: dict | None) -> tuple[list[dict[str, Any]], dict | None]:
    """One Scan page of at most `limit` items, and the key to continue from (None at the end).

    Limit is always set: a Scan never reads more than one bounded page per request.
    """
    kwargs: dict[str, Any] = {"Limit": limit}
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    result = table().scan(**kwargs)
    return result.get("Items", []), result.get("LastEvaluatedKey")


def replace(item_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Replace an existing item's attributes (PUT); never creates one.

    The function's role may only GetItem and UpdateItem, so a replace is: read the current
    attribute names, then ONE UpdateItem that SETs the new ones and REMOVEs the ones that
    disappear, conditional on the item existing with the updated_at we read (optimistic
    locking). A lost race is retried from a fresh read; a vanished item is NotFound; after
    UPDATE_ATTEMPTS lost races, Conflict.
    """
    for _ in range(UPDATE_ATTEMPTS):
        current = read(item_id)
        if current is None:
            raise _not_found(item_id)
        try:
            return _update(item_id, current, attributes)
        except ClientError as error:
            if not _condition_failed(error):
                raise
    raise Conflict(f"item {item_id} was modified concurrently; retry")


def _update(item_id: str, current: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """One conditional UpdateItem from `current` to `attributes`. Every attribute name and value
    goes through a placeholder: no user text is ever part of the expression."""
    names = {"#pk": KEY, "#updated": UPDATED_AT}
    values: dict[str, Any] = {":now": later_than(current.get(UPDATED_AT))}
    sets = ["#updated = :now"]
    for i, (name, value) in enumerate(attributes.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    kept = {KEY, CREATED_AT, UPDATED_AT, *attributes}
    removes = []
    for i, name in enumerate(sorted(current.keys() - kept)):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    if UPDATED_AT in current:
        values[":prev"] = current[UPDATED_AT]
        condition = "attribute_exists(#pk) AND #updated = :prev"
    else:  # written outside the API: lock on "still has no updated_at" instead
        condition = "attribute_exists(#pk) AND attribute_not_exists(#updated)"
    result = table().update_item(
        Key={KEY: item_id},
        UpdateExpression=expression,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return result["Attributes"]
