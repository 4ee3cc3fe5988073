"""JSON merge patch (RFC 7386), the body of PATCH /items/{id}: a pure function, no AWS.

A patch object's members merge into the target recursively: an object member merges into the
target's member of that name (an absent or non-object one counts as {}), null removes the member
(removing one that is absent is a no-op), and any other value (string, number, boolean, array)
replaces it whole. Arrays are never merged element by element.
"""

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """The result of applying `patch` to `target` (RFC 7386 section 2). Neither argument is
    changed: the result shares no dict with them that it modifies."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
