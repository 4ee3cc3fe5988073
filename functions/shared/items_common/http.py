"""API Gateway proxy responses, and the one map from domain error to HTTP status.

Every response is JSON with Content-Type application/json and the CORS headers of
settings.cors_origin() (with `Vary: Origin` for a single origin, and Allow-Credentials when
configured), whatever its status, so a browser can read errors as well. Errors are
{"error": {"code": ..., "message": ...}}; the message of a 4xx comes from our own DomainError,
and anything unexpected is logged with its traceback and answered with a generic 500, so no
exception text, class name or AWS error ever reaches a client. Every request also logs one
line (with the time its AWS calls took) and, for a successful write, counts one metric
(observability). A response carrying one item (item_response) also has `ETag: "<version>"`.

No tracing code: the functions run with Lambda's Active tracing, so X-Ray shows each request
from API Gateway to the function (its Init and Invocation) without an SDK in the function; the
request line says where the invocation's time went (AWS calls by service versus the rest).

AWS being unavailable is not a bug: a throttle or a retryable fault that outlasts botocore's
retries (aws.unavailable), or the request's deadline (deadline.py), is a 503 with Retry-After
and the code THROTTLED, UNAVAILABLE or TIMEOUT, logged as a WARNING with the AWS error code;
a THROTTLED answer also counts one RequestsThrottled metric, which the throttling alarm watches
(the 5XX alarm leaves those out).
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

from . import deadline, observability, settings
from .errors import (
    BadRequest,
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Throttled,
    Timeout,
    Unavailable,
)
from .event import ProxyEvent
from .jsonify import dumps
from .model import VERSION, version_number

if TYPE_CHECKING:  # a type only: its module is a cold-start import the handler never needs
    from aws_lambda_powertools.utilities.typing import LambdaContext

# The one map from domain error class to HTTP status; a class not listed takes the status of its
# nearest listed base class (so every DomainError has one).
STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    BadRequest: 400,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    PayloadTooLarge: 413,
    IdempotencyKeyReused: 422,
    Unavailable: 503,
}
INTERNAL = {"error": {"code": "INTERNAL", "message": "internal error"}}

Route = Callable[[ProxyEvent], dict[str, Any]]


def headers() -> dict[str, str]:
    """The headers of every response."""
    origin = settings.cors_origin()
    result = {"Content-Type": "application/json", "Access-Control-Allow-Origin": origin}
    if origin != "*":  # an answer naming one origin: shared caches must key on Origin
        result["Vary"] = "Origin"
    if settings.cors_credentials():
        result["Access-Control-Allow-Credentials"] = "true"
    return result


def response(status: int, body: Any = None) -> dict[str, Any]:
    """A proxy response; body None means an empty body (204)."""
    return {
        "statusCode": status,
        "headers": headers(),
        "body": "" if body is None else dumps(body),
        "isBase64Encoded": False,
    }


def etag(version: int) -> str:
    """The strong entity tag of an item version: the number in double quotes."""
    return f'"{version}"'


def item_response(status: int, item: dict[str, Any], *, encoded: str | None = None) -> dict:
    """A response with one item: its body (or `encoded`, that body as JSON already) plus an
    ETag of its version, which browsers may read (Access-Control-Expose-Headers)."""
    result = response(status, item) if encoded is None else response(status, None)
    if encoded is not None:
        result["body"] = encoded
    result["headers"]["ETag"] = etag(version_number(item.get(VERSION)))
    result["headers"]["Access-Control-Expose-Headers"] = "ETag"
    return result


def status_of(error: DomainError) -> int:
    """The status of the nearest class in STATUS along the error's MRO."""
    return next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)


def error_response(error: DomainError) -> dict[str, Any]:
    result = response(status_of(error), {"error": {"code": error.code, "message": error.message}})
    if isinstance(error, Unavailable):
        result["headers"]["Retry-After"] = str(error.retry_after)
        result["headers"]["Access-Control-Expose-Headers"] = "Retry-After"
    return result


def outcome(
    route: Route, event: dict[str, Any], logger: Logger, context: Any = None
) -> tuple[dict[str, Any], str | None]:
    """Run one route within the request's deadline: its response, the status of a DomainError
    (with the error's code), a 503 when AWS was unavailable or time ran out, or a generic 500
    for the rest (logged with its traceback)."""
    try:
        with deadline.watch(deadline.seconds_left(context, event)):
            return route(ProxyEvent(event)), None
    except DomainError as error:
        if isinstance(error, Unavailable):
            logger.warning("aws unavailable", extra={"error_code": error.code})
        return error_response(error), error.code
    except deadline.DeadlineExceeded as error:
        logger.warning("deadline exceeded", extra={"detail": str(error)})
        return error_response(Timeout("the request ran out of time; retry")), Timeout.code
    except Exception as error:
        # Imported here, not at the top: aws loads boto3, which the routes that call no AWS
        # service (health, openapi) need not load at their cold start.
        from . import aws

        busy = aws.unavailable(error)
        if busy is None:
            logger.exception("unhandled error")
            return response(500, INTERNAL), None
        code = aws.failure_code(error)
        logger.warning("aws unavailable", extra={"error_code": busy.code, "aws": code})
        return error_response(busy), busy.code


def handle(
    route: Route, event: dict[str, Any], logger: Logger, context: Any = None
) -> dict[str, Any]:
    """`outcome`, and the request's one INFO line (observability.request_fields), with the AWS
    calls of this request only."""
    started = time.perf_counter()
    observability.AWS_CALLS.reset()
    result, error_code = outcome(route, event, logger, context)
    if error_code == Throttled.code:
        observability.count_throttled(logger)
    fields = observability.request_fields(event, result["statusCode"], error_code, started)
    logger.info(observability.REQUEST, extra=fields)
    return result


def entrypoint(
    route: Route,
    logger: Logger,
    metrics: Metrics | None = None,
    metric: str | None = None,
) -> Callable[..., dict[str, Any]]:
    """The function's `lambda_handler`: the request id as correlation id in every log line,
    `handle`, and, for a write, a Count of `metric` in `metrics` when it succeeded (2xx) and
    only then."""
    if (metrics is None) != (metric is None):
        raise TypeError("metrics and metric go together")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
        result = handle(route, event, logger, context)
        if metrics is not None and metric is not None and 200 <= result["statusCode"] < 300:
            observability.count(metrics, metric, logger)
        return result

    return lambda_handler
