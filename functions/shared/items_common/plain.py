"""Plain mode (no sort key): one row per item, every write conditional where it matters.

Speaks API items (rows.py translates the key). Domain outcomes (missing item, existing id, lost
race) become NotFound/Conflict; any other AWS error propagates and is answered as a generic 500
by http.handle.
"""

from typing import Any

from botocore.exceptions import ClientError

from . import rows
from .dynamo import (
    condition_failed,
    head_row,
    not_found,
    optimistic,
    paged,
    table,
    unchanged_since,
)
from .errors import Conflict, InvalidToken
from .model import CREATED_AT, ID, UPDATED_AT, later_than, now


def read(item_id: str) -> dict[str, Any] | None:
    """The item (strongly consistent read), or None."""
    row = head_row(item_id)
    return None if row is None else rows.to_item(row)


def create(item: dict[str, Any]) -> dict[str, Any]:
    """Store a new item with both timestamps; Conflict if its id exists (never overwrites)."""
    stamp = now()
    item = {**item, CREATED_AT: stamp, UPDATED_AT: stamp}
    try:
        table().put_item(
            Item=rows.to_row(item),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": rows.key_names()[0]},
        )
    except ClientError as error:
        if condition_failed(error):
            raise Conflict(f"item {item[ID]} already exists") from None
        raise
    return item


def delete(item_id: str) -> dict[str, Any]:
    """Delete an existing item and return what it was; NotFound if there is none."""
    try:
        result = table().delete_item(
            Key=rows.key(item_id),
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames={"#pk": rows.key_names()[0]},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if condition_failed(error):
            raise not_found(item_id) from None
        raise
    return rows.to_item(result["Attributes"])


def page(limit: int, start_key: dict | None) -> tuple[list[dict[str, Any]], dict | None]:
    """One Scan page of at most `limit` items, and the key to continue from (None at the end)."""
    found, last_key = paged("scan", limit, start_key)
    return [rows.to_item(r) for r in found], last_key


def versions(
    item_id: str, limit: int, start_key: dict | None
) -> tuple[list[dict[str, Any]], dict | None]:
    """The versions listing of a table without history: the current item as its one version
    (rows.as_version), never a next page; NotFound if missing. No next_token is ever issued
    here, so one given is refused."""
    if start_key is not None:
        raise InvalidToken("next_token is not a token this API returned")
    row = head_row(item_id)
    if row is None:
        raise not_found(item_id)
    return [rows.as_version(row)], None


def replace(item_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Replace an existing item's attributes (PUT); never creates one.

    The function's role may only GetItem and UpdateItem, so a replace is: read the current
    attribute names, then ONE UpdateItem that SETs the new ones and REMOVEs the ones that
    disappear, conditional on the item existing with the updated_at we read (optimistic
    locking, dynamo.optimistic: retried, then Conflict).
    """
    return optimistic(item_id, read, lambda current: _update(item_id, current, attributes))


def _update(item_id: str, current: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """One conditional UpdateItem from `current` to `attributes`. Every attribute name and value
    goes through a placeholder: no user text is ever part of the expression."""
    condition, names, values = unchanged_since(current)
    values[":now"] = later_than(current.get(UPDATED_AT))
    sets = ["#updated = :now"]
    for i, (name, value) in enumerate(attributes.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    kept = {ID, CREATED_AT, UPDATED_AT, *attributes}
    removes = []
    for i, name in enumerate(sorted(current.keys() - kept)):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    result = table().update_item(
        Key=rows.key(item_id),
        UpdateExpression=expression,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return rows.to_item(result["Attributes"])
