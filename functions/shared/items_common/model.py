"""The item's shape: the names the server owns, and how it writes timestamps and versions."""

from datetime import UTC, datetime, timedelta

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
# Set only by the server, in every mode: a request body that contains one is refused.
SERVER_FIELDS = frozenset({CREATED_AT, UPDATED_AT, FILE_KEY})

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

    updated_at is the optimistic-locking token of PUT: if a write produced the same value as the
    one it replaced (same microsecond, or a host whose clock is behind), a concurrent writer
    holding the old value would pass its condition and silently overwrite. Never reusing the
    previous value closes that hole. (In history mode it also makes versions strictly increase.)
    """
    current = now()
    parsed = _parse(previous)
    if parsed is not None and current <= previous:  # type: ignore[operator]
        return (parsed + timedelta(microseconds=1)).strftime(_FORMAT)
    return current


def version_of(stamp: object) -> int:
    """The version number of a write: its timestamp in integer microseconds since the epoch
    (history mode's sort key), so versions order as writes do; 0 for a foreign value."""
    parsed = _parse(stamp)
    if parsed is None:
        return 0
    return (parsed - _EPOCH) // timedelta(microseconds=1)
