"""Domain errors. Each carries a short `code` and a human message that is safe to show a client;
http.STATUS maps the classes to HTTP statuses (the only place that knows about HTTP)."""

from collections.abc import Iterator


def chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and what caused it, outermost first (__cause__, else __context__: Powertools and
    botocore wrap the error that matters)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


class DomainError(Exception):
    """Base of every error a client may see. Never built from exception or AWS text."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DomainError):
    """The request is malformed (400)."""


class InvalidJson(BadRequest):
    code = "INVALID_JSON"


class InvalidItem(BadRequest):
    """The body is JSON but not an acceptable item (shape, names, server fields, nesting)."""

    code = "INVALID_ITEM"


class InvalidNumber(BadRequest):
    """A number that DynamoDB cannot store, or that we could not return exactly."""

    code = "INVALID_NUMBER"


class InvalidId(BadRequest):
    code = "INVALID_ID"


class InvalidLimit(BadRequest):
    code = "INVALID_LIMIT"


class InvalidToken(BadRequest):
    code = "INVALID_TOKEN"


class InvalidVersion(BadRequest):
    """A malformed If-Match header or body `version`, or the two disagree."""

    code = "INVALID_VERSION"


class InvalidIdempotencyKey(BadRequest):
    code = "INVALID_IDEMPOTENCY_KEY"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class PreconditionFailed(DomainError):
    """If-Match (or the body's `version`) does not name the item's current version (412)."""

    code = "PRECONDITION_FAILED"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key already used with a different body (422)."""

    code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"


class Unavailable(DomainError):
    """AWS could not do it in time: retried within the request's deadline, then answered 503
    with Retry-After. The outcome of a write is then unknown: retry it (If-Match or the same
    Idempotency-Key make the retry safe)."""

    code = "UNAVAILABLE"
    retry_after = 1  # seconds: what the Retry-After header says


class Throttled(Unavailable):
    """DynamoDB or S3 refused for capacity (throttling, or a transaction that kept meeting
    another with no winner)."""

    code = "THROTTLED"


class Timeout(Unavailable):
    """The request's deadline passed before AWS answered (deadline.py)."""

    code = "TIMEOUT"
