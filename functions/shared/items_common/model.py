"""The item's shape: the names the server owns, and how it writes timestamps and versions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from . import settings

# The API's name of the key, in URLs ({id}) and bodies, whatever the table calls its partition
# key (settings.partition_key(); rows.py is the one place that translates).
ID = "id"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
# The S3 key of the item's attachment (attachments.py); never in a response.
FILE_KEY = "file_key"
# Set on a history-mode tombstone (history.py): the item is deleted, its versions remain.
DELETED_AT = "deleted_at"
# The request/response field carrying the attachment itself; stored in S3, never in the table.
FILE_CONTENT = "file_content"
# The creation an Idempotency-Key made (idempotency.token: a hash of the key and the body); set
# on POST, kept by every write, never in a response. It lets a retry find its item when the
# key's idempotency record was never completed (items.create).
IDEMPOTENCY_TOKEN = "idempotency_token"
# Set only by the server, in every mode: a request body that contains one is refused.
SERVER_FIELDS = frozenset({CREATED_AT, UPDATED_AT, FILE_KEY, IDEMPOTENCY_TOKEN})
# Stored, but never shown to a client (rows.public).
HIDDEN_FIELDS = frozenset({FILE_KEY, IDEMPOTENCY_TOKEN})
# The item's integer version: 1 on creation, one more per write (PUT, PATCH, a history-mode
# tombstone); the optimistic-locking token and the ETag. Also server-owned, but not in
# SERVER_FIELDS: a PUT/PATCH body may carry it as a precondition (validation.precondition);
# a POST body that carries it is refused by hand.
VERSION = "version"
FIRST_VERSION = 1
# Versions above this are not ours (a row written outside the API): they count as 0.
MAX_VERSION = 10**18 - 1

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_EPOCH = datetime(1970, 1, 1)


def reserved_fields() -> frozenset[str]:
    """Names a request body may not use: the server's fields, and the table's own key attributes
    when they differ from `id` (a body attribute of that name would overwrite the key)."""
    names = {*SERVER_FIELDS, settings.partition_key()} - {ID}
    sort_key = settings.sort_key()
    if sort_key:
        names |= {sort_key, DELETED_AT}
    return frozenset(names)


def now() -> str:
    """Current UTC time as fixed-width ISO-8601 (2026-11-21T12:00:00.123456Z), so string order
    is time order."""
    return datetime.now(UTC).strftime(_FORMAT)


def _parse(stamp: object) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, _FORMAT)
    except ValueError:  # not written by us
        return None


def later_than(previous: object) -> str:
    """now(), but strictly after `previous` when that is one of our timestamps.

    So updated_at strictly increases per item whatever the hosts' clocks do: a client sees time
    move forward, and in history mode the sort keys of version rows (version_of) strictly
    increase. (The optimistic lock itself is the integer `version`, dynamo.unchanged.)
    """
    current = now()
    parsed = _parse(previous)
    if parsed is not None and current <= previous:  # type: ignore[operator]
        return (parsed + timedelta(microseconds=1)).strftime(_FORMAT)
    return current


def version_of(stamp: object) -> int:
    """The sort key of a history-mode version row: its write's timestamp in integer microseconds
    since the epoch, so version rows order as writes do; 0 for a foreign value. (Not the item's
    `version`, which counts writes: see VERSION.)"""
    parsed = _parse(stamp)
    if parsed is None:
        return 0
    return (parsed - _EPOCH) // timedelta(microseconds=1)


def version_number(value: object) -> int:
    """The integer version of a stored `version` value. Ours are Numbers from 1 up; a row written
    before versions existed (no value), or outside the API with something else there, counts as
    version 0, so it can still be read, locked and written (the next write makes it 1)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return 0
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        return 0
    number = int(value)
    return number if 0 <= number <= MAX_VERSION else 0
