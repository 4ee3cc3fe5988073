"""Plain mode (no sort key): one row per item, every write conditional where it matters.

Speaks API items (rows.py translates the key). Domain outcomes (missing item, existing id, lost
race, stale precondition) become NotFound/Conflict/PreconditionFailed (dynamo.py documents which
is which); any other AWS error propagates and is answered as a generic 500 by http.handle.
"""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from . import dynamo, model, rows
from .errors import Conflict, InvalidToken

# What an update never removes: the key, the system attributes, the creation's idempotency token.
_KEPT = (model.ID, model.CREATED_AT, model.UPDATED_AT, model.VERSION, model.IDEMPOTENCY_TOKEN)


def read(item_id: str) -> dict[str, Any] | None:
    """The item (strongly consistent read), or None."""
    row = dynamo.head_row(item_id)
    return None if row is None else rows.to_item(row)


def create(item: dict[str, Any]) -> dict[str, Any]:
    """Store a new item with both timestamps and version 1; Conflict if its id exists (never
    overwrites)."""
    stamp = model.now()
    item = {
        **item,
        model.CREATED_AT: stamp,
        model.UPDATED_AT: stamp,
        model.VERSION: model.FIRST_VERSION,
    }
    try:
        dynamo.table().put_item(
            Item=rows.to_row(item),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": rows.key_names()[0]},
        )
    except ClientError as error:
        if dynamo.condition_failed(error):
            raise Conflict(f"item {item[model.ID]} already exists") from None
        raise
    return item


def delete(item_id: str, expected: int | None = None) -> dict[str, Any]:
    """Delete an existing item and return what it was; NotFound if there is none.

    Without a precondition, one DeleteItem conditional on the item existing. With one, read the
    item (PreconditionFailed if its version is not `expected`) and delete it on its still having
    the version read (dynamo.optimistic: a lost race is read again, so a concurrent write makes
    it a 412, a concurrent delete a 404).
    """
    if expected is None:
        try:
            return _delete(item_id, "attribute_exists(#pk)", {"#pk": rows.key_names()[0]}, {})
        except ClientError as error:
            if dynamo.condition_failed(error):
                raise dynamo.not_found(item_id) from None
            raise
    return dynamo.optimistic(
        item_id, read, lambda current: _delete(item_id, *dynamo.unchanged(current)), expected
    )


def _delete(item_id: str, condition: str, names: dict, values: dict) -> dict[str, Any]:
    """One conditional DeleteItem; what the row was."""
    result = dynamo.table().delete_item(
        Key=rows.key(item_id),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ReturnValues="ALL_OLD",
        **({"ExpressionAttributeValues": values} if values else {}),
    )
    return rows.to_item(result["Attributes"])


def page(limit: int, start_key: dict | None) -> tuple[list[dict[str, Any]], dict | None]:
    """One Scan page of at most `limit` items, and the key to continue from (None at the end)."""
    found, last_key = dynamo.paged("scan", limit, start_key)
    return [rows.to_item(r) for r in found], last_key


def versions(
    item_id: str, limit: int, start_key: dict | None
) -> tuple[list[dict[str, Any]], dict | None]:
    """The versions listing of a table without history: the current item as its one version
    (rows.as_version), never a next page; NotFound if missing. No next_token is ever issued
    here, so one given is refused."""
    if start_key is not None:
        raise InvalidToken("next_token is not a token this API returned")
    row = dynamo.head_row(item_id)
    if row is None:
        raise dynamo.not_found(item_id)
    return [rows.as_version(row)], None


def update(
    item_id: str,
    attributes_after: Callable[[dict[str, Any]], dict[str, Any]],
    expected: int | None = None,
) -> dict[str, Any]:
    """Give an existing item the attributes `attributes_after(current)` (PUT: the body's; PATCH:
    the current ones merged with the patch); never creates one.

    The function's role may only GetItem and UpdateItem, so an update is: read the current item,
    then ONE UpdateItem that SETs the new attributes and REMOVEs the ones that disappear,
    conditional on the item existing with the version we read (dynamo.optimistic: a stale
    `expected` is PreconditionFailed, lost races are retried, then Conflict).
    """

    def write(current: dict[str, Any]) -> dict[str, Any]:
        return _update(item_id, current, attributes_after(current))

    return dynamo.optimistic(item_id, read, write, expected)


def replace(item_id: str, attributes: dict[str, Any], expected: int | None = None) -> dict:
    """PUT: replace an existing item's attributes (see update)."""
    return update(item_id, lambda _: attributes, expected)


def _update(item_id: str, current: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """One conditional UpdateItem from `current` to `attributes`. Every attribute name and value
    goes through a placeholder: no user text is ever part of the expression."""
    condition, names, values = dynamo.unchanged(current)
    names["#updated"] = model.UPDATED_AT
    values[":now"] = model.later_than(current.get(model.UPDATED_AT))
    values[":version"] = dynamo.next_version(current)
    sets = ["#updated = :now", "#version = :version"]
    for i, (name, value) in enumerate(attributes.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    kept = {*_KEPT, *attributes}
    removes = []
    for i, name in enumerate(sorted(current.keys() - kept)):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    result = dynamo.table().update_item(
        Key=rows.key(item_id),
        UpdateExpression=expression,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return rows.to_item(result["Attributes"])
