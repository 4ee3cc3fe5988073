"""The item's shape: attribute names the server owns, and how it writes timestamps."""

from datetime import UTC, datetime, timedelta

# The table's partition key attribute, type S. The one place that names it (the template's own
# constant is templates/data.py PARTITION_KEY; a later change makes both configurable).
KEY = "id"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
# Set only by the server: a request body that contains one of them is refused.
SERVER_FIELDS = frozenset({CREATED_AT, UPDATED_AT})

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """Current UTC time as fixed-width ISO-8601 (2026-11-21T12:00:00.123456Z), so string order
    is time order."""
    return datetime.now(UTC).strftime(_FORMAT)


def later_than(previous: object) -> str:
    """now(), but strictly after `previous` when that is one of our timestamps.

    updated_at is the optimistic-locking token of PUT: if a write produced the same value as the
    one it replaced (same microsecond, or a host whose clock is behind), a concurrent writer
    holding the old value would pass its condition and silently overwrite. Never reusing the
    previous value closes that hole.
    """
    current = now()
    if isinstance(previous, str) and current <= previous:
        try:
            parsed = datetime.strptime(previous, _FORMAT)
        except ValueError:  # not written by us: nothing to order against
            return current
        return (parsed + timedelta(microseconds=1)).strftime(_FORMAT)
    return current
