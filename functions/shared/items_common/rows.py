"""Table rows <-> API items: the one place that knows the table's key attribute names.

The API always calls the key `id`; the table calls it settings.partition_key() and, in history
mode, adds the Number sort key settings.sort_key(): 0 for an item's HEAD row (its current state
or tombstone), its write's time (model.version_of) for each of its VERSION rows. Stores speak
API items (with the system fields file_key/deleted_at); only this module builds keys and rows.
"""

from typing import Any

from . import settings
from .model import DELETED_AT, HIDDEN_FIELDS, ID, VERSION, version_number

HEAD = 0


def key(item_id: str, version: int = HEAD) -> dict[str, Any]:
    """The table key of an item's row: the head unless a version is given (history mode)."""
    result: dict[str, Any] = {settings.partition_key(): item_id}
    sort_key = settings.sort_key()
    if sort_key:
        result[sort_key] = version
    return result


def key_names() -> tuple[str, ...]:
    """The table's key attribute names: (partition,) or (partition, sort)."""
    sort_key = settings.sort_key()
    return (settings.partition_key(), sort_key) if sort_key else (settings.partition_key(),)


def to_row(item: dict[str, Any], version: int = HEAD) -> dict[str, Any]:
    """The row storing an API item (which has `id`)."""
    return {**{k: v for k, v in item.items() if k != ID}, **key(item[ID], version)}


def to_item(row: dict[str, Any]) -> dict[str, Any]:
    """The API item a row holds: `id` instead of the key attributes."""
    names = key_names()
    return {ID: row[names[0]], **{k: v for k, v in row.items() if k not in names}}


def public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a client sees it: without the internal S3 key of its attachment and its
    creation's idempotency token, and with its integer `version` (0 for a row written before
    versions existed, or outside the API)."""
    shown = {k: v for k, v in item.items() if k not in HIDDEN_FIELDS}
    shown[VERSION] = version_number(item.get(VERSION))
    return shown


def as_version(row: dict[str, Any]) -> dict[str, Any]:
    """A row as one entry of the versions listing: the state with its integer `version` (as
    `public`) and `deleted` (a tombstone), set by the server and taking precedence over an
    attribute of the same name. (History rows stay keyed by their write's time, rows.key; the
    listing shows the item's version number, not the sort key.)"""
    return {**public(to_item(row)), "deleted": DELETED_AT in row}
