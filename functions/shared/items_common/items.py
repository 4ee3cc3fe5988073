"""The API's operations on items, as the route functions call them: the store of the table's
mode (plain.py or history.py, chosen by settings.sort_key()) plus the attachment in S3.

What these return is what a client sees: `id`, the attributes, the timestamps, the integer
`version`, and `file_content` when the item has an attachment (GET, and the answers of
POST/PUT/PATCH that sent one); never the internal file_key (rows.public). Listings carry no
file_content: that would be one S3 read per item. See attachments.py for the key scheme and its
failure modes, and dynamo.py for versions and preconditions (`expected`: the version a client
named with If-Match or a body `version`, None for none).
"""

from types import ModuleType
from typing import Any

from . import attachments, dynamo, history, merge, pagination, plain, rows, settings, validation
from .errors import Conflict
from .model import (
    CREATED_AT,
    DELETED_AT,
    FILE_CONTENT,
    FILE_KEY,
    FIRST_VERSION,
    ID,
    IDEMPOTENCY_TOKEN,
    UPDATED_AT,
    VERSION,
)

# What a store keeps beside the attributes a client writes (file_key is an attribute here: the
# attachment's reference, which file_content sets and removes).
SYSTEM_FIELDS = frozenset({ID, CREATED_AT, UPDATED_AT, VERSION, DELETED_AT, IDEMPOTENCY_TOKEN})


def _store() -> ModuleType:
    return history if settings.history_mode() else plain


def _stored(item_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A request body as the store keeps it: its file_content written to a new S3 object and
    replaced by that object's key. Also returns the content (None when there is none)."""
    attributes = {k: v for k, v in body.items() if k != FILE_CONTENT}
    content = body.get(FILE_CONTENT)
    if content is not None:
        attributes[FILE_KEY] = attachments.new_key(item_id)
        attachments.write(attributes[FILE_KEY], content)
    return attributes, content


def _shown(item: dict[str, Any], content: str | None) -> dict[str, Any]:
    shown = rows.public(item)
    if content is not None:
        shown[FILE_CONTENT] = content
    return shown


# Object reads per GET: the first, and one per replace that raced it (then the 500 stands).
ATTACHMENT_READS = 3


def get(item_id: str) -> dict[str, Any]:
    """The item with its attachment's content, or NotFound. An object that vanished between
    the two reads sends us back to the row (attachments.may_be_gone): a concurrent delete is a
    404, a concurrent replace serves the new object, an unchanged row re-raises (a 500)."""
    item = _store().read(item_id)
    for attempt in range(1, ATTACHMENT_READS + 1):
        if item is None:
            raise dynamo.not_found(item_id)
        key = item.get(FILE_KEY)
        if key is None:
            return _shown(item, None)
        try:
            return _shown(item, attachments.read(key))
        except Exception as error:
            if not attachments.may_be_gone(error) or attempt == ATTACHMENT_READS:
                raise
            again = _store().read(item_id)
            if again is not None and again.get(FILE_KEY) == key:
                raise  # the row still points at it: not a race
            item = again
    raise AssertionError("unreachable")


def create(body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    """POST: a new item (Conflict if its id exists). With an idempotency token the row keeps
    it, and an item that already has the same token is this creation retried: its first answer
    again (created_by), not a 409."""
    attributes, content = _stored(body[ID], body)
    if token is not None:
        attributes[IDEMPOTENCY_TOKEN] = token
    try:
        return _shown(_store().create(attributes), content)
    except Conflict:
        first = None if token is None else created_by(body, token)
        if first is None:
            raise
        return first


def created_by(body: dict[str, Any], token: str) -> dict[str, Any] | None:
    """The first answer of the creation `token` names, if its item exists: `body` as that
    creation stored it, with the item's created_at and version 1, whatever happened to the item
    since (Powertools replays that answer too); None when the item has another token or none."""
    current = _store().read(body[ID])
    if current is None or current.get(IDEMPOTENCY_TOKEN) != token:
        return None
    stamp = current.get(CREATED_AT)
    attributes = {k: v for k, v in body.items() if k != FILE_CONTENT}
    first = {**attributes, CREATED_AT: stamp, UPDATED_AT: stamp, VERSION: FIRST_VERSION}
    return _shown(first, body.get(FILE_CONTENT))


def replace(item_id: str, body: dict[str, Any], expected: int | None = None) -> dict[str, Any]:
    """PUT: replace semantics, so a body without file_content drops the attachment."""
    attributes, content = _stored(item_id, body)
    return _shown(_store().replace(item_id, attributes, expected), content)


def patch(item_id: str, changes: dict[str, Any], expected: int | None = None) -> dict[str, Any]:
    """PATCH: the current attributes with `changes` merged in (merge.merge_patch, so null
    removes). file_content is the attachment: a string sets a new one (a new S3 object, written
    once, before the row that references it), null removes it (in plain mode the stream consumer
    then deletes the object, as for one a PUT drops: upkeep.py), absent keeps it. The merged
    item, with the patch's file_content, must still be one a PUT could write
    (validation.check_merged), else the PUT's error and nothing is written.

    The answer has file_content only when the patch set one: the current attachment is not
    read (the function may not read S3), so a client GETs it."""
    content = changes.get(FILE_CONTENT)
    patch_body = {k: v for k, v in changes.items() if k != FILE_CONTENT}
    if FILE_CONTENT in changes:
        patch_body[FILE_KEY] = None if content is None else attachments.new_key(item_id)
    written: list[str] = []

    def attributes_after(current: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: v for k, v in current.items() if k not in SYSTEM_FIELDS}
        merged = validation.check_merged(merge.merge_patch(attributes, patch_body), content)
        if content is not None and not written:  # a retried write reuses the object
            attachments.write(patch_body[FILE_KEY], content)
            written.append(patch_body[FILE_KEY])
        return merged

    return _shown(_store().update(item_id, attributes_after, expected), content)


def delete(item_id: str, expected: int | None = None) -> None:
    """Delete the item. When the store removed the row for good (plain mode), its attachment
    goes at once, best effort (attachments.discard): the item is gone whatever S3 answers, so a
    failure is logged and the DELETE still succeeds; the stream consumer deletes that object
    when it handles the row's REMOVE (upkeep.py). History mode keeps every object."""
    removed = _store().delete(item_id, expected)
    if removed is not None and FILE_KEY in removed:
        attachments.discard(removed[FILE_KEY])


def page(limit: int, token: str | None) -> dict[str, Any]:
    """One page of items and the token of the next: the body of GET /items."""
    found, last_key = _store().page(limit, pagination.decode(token))
    return pagination.body([rows.public(item) for item in found], last_key)


def versions(item_id: str, limit: int, token: str | None) -> dict[str, Any]:
    """One page of the item's versions, newest first: the body of GET /items/{id}/versions."""
    found, last_key = _store().versions(item_id, limit, pagination.decode(token, item_id))
    return pagination.body(found, last_key)
