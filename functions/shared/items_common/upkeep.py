"""Attachment upkeep: what the stream consumer does, per table change, for the objects the rows
reference (attachments.py has the whole scheme). After stream_audit has written a record's audit
object it calls `keep` with that record's audit entry (audit.entry):

- commit: a new image whose file_key differs from the old image's (an INSERT with an
  attachment, a MODIFY that set or replaced one) -> the pending tag of that object is removed
  (attachments.commit), so the lifecycle rule never expires it;
- delete, in plain mode only: an old image's file_key that the new image no longer references
  (a MODIFY that replaced or dropped the attachment, a REMOVE) -> that object is deleted. No row
  can reference it again: keys are never reused.

History mode (settings.sort_key() set) never deletes: its version rows reference every object
an item ever had. It commits from the head rows (sort key rows.HEAD) only, since each version
row repeats the file_key its head got in the same transaction.

Only keys under the row's own items/<id>/ are touched (attachments.owned): a row written outside
the API cannot make the consumer act on another object (nor fail on one it may not touch).

Idempotent, since Lambda replays records (a batch is retried from its first failure): deleting
again is a success, and committing again is a no-op. A commit can find its object gone when a
later change deleted it first (a plain-mode DELETE deletes at once, usually before the
consumer sees the INSERT; or a replayed record). In plain mode that is harmless when the row no
longer references the key (one strongly consistent GetItem of the file_key); otherwise, and
always in history mode, where no object is ever deleted, it raises. Any failure raises, so the
record is reported (partial batch response), retried, and finally parked in the failure queue.
"""

from dataclasses import dataclass
from typing import Any

from . import attachments, rows, settings
from .dynamo import table
from .model import FILE_KEY


@dataclass(frozen=True)
class Plan:
    """The S3 calls one record needs."""

    commit: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()


def plan(entry: dict[str, Any], partition_key: str, sort_key: str | None) -> Plan:
    """The upkeep of one audit entry (event_name, keys, old_image, new_image as audit.entry
    gives them), for a table with these key attribute names (sort_key None: plain mode).
    Pure: decides, calls nothing."""
    keys = entry.get("keys") or {}
    if sort_key is not None and keys.get(sort_key) != rows.HEAD:
        return Plan()  # a version row: its head's record carries the same file_key
    item_id = keys.get(partition_key)

    def file_key(image: dict[str, Any] | None) -> str | None:
        key = (image or {}).get(FILE_KEY)
        return key if attachments.owned(key, item_id) else None

    old, new = file_key(entry.get("old_image")), file_key(entry.get("new_image"))
    commit = (new,) if new is not None and new != old else ()
    delete = (old,) if sort_key is None and old is not None and old != new else ()
    return Plan(commit=commit, delete=delete)


def _still_referenced(keys: dict[str, Any], key: str) -> bool:
    """Whether the row with these table keys references `key` now (strongly consistent)."""
    found = table().get_item(
        Key=keys,
        ConsistentRead=True,
        ProjectionExpression="#f",
        ExpressionAttributeNames={"#f": FILE_KEY},
    )
    return found.get("Item", {}).get(FILE_KEY) == key


def keep(entry: dict[str, Any]) -> Plan:
    """Carry out plan(entry) for this function's table (module docstring); returns the plan."""
    sort_key = settings.sort_key()
    todo = plan(entry, settings.partition_key(), sort_key)
    for key in todo.commit:
        try:
            attachments.commit(key)
        except attachments.MissingAttachment:
            if sort_key is not None or _still_referenced(entry["keys"], key):
                raise
            # plain mode, and the row has moved on: the change that did so deletes the object
    for key in todo.delete:
        attachments.delete(key)
    return todo
