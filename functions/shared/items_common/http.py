"""API Gateway proxy responses, and the one map from domain error to HTTP status.

Every response is JSON with Content-Type application/json. Errors are
{"error": {"code": ..., "message": ...}}; the message of a 4xx comes from our own DomainError,
and anything unexpected is logged with its traceback and answered with a generic 500, so no
exception text, class name or AWS error ever reaches a client.
"""

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from . import numbers
from .errors import BadRequest, Conflict, DomainError, NotFound, PayloadTooLarge

# The one map from domain error class to HTTP status; a class not listed takes the status of its
# nearest listed base class (so every DomainError has one).
STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    BadRequest: 400,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
}
HEADERS = {"Content-Type": "application/json"}
INTERNAL = {"error": {"code": "INTERNAL", "message": "internal error"}}

Route = Callable[[APIGatewayProxyEvent], dict[str, Any]]


def _default(value: object) -> Any:
    """JSON for what DynamoDB returns beyond plain JSON types."""
    if isinstance(value, Decimal):
        return numbers.to_json(value)
    if isinstance(value, set | frozenset):  # sets exist only in items written outside the API
        return sorted(value, key=str)
    value = getattr(value, "value", value)  # boto3.dynamodb.types.Binary wraps bytes
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any) -> str:
    return json.dumps(body, default=_default, allow_nan=False, separators=(",", ":"))


def response(status: int, body: Any = None) -> dict[str, Any]:
    """A proxy response; body None means an empty body (204)."""
    return {
        "statusCode": status,
        "headers": dict(HEADERS),
        "body": "" if body is None else dumps(body),
        "isBase64Encoded": False,
    }


def status_of(error: DomainError) -> int:
    """The status of the nearest class in STATUS along the error's MRO."""
    return next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)


def error_response(error: DomainError) -> dict[str, Any]:
    return response(status_of(error), {"error": {"code": error.code, "message": error.message}})


def handle(route: Route, event: dict[str, Any], logger: Logger) -> dict[str, Any]:
    """Run one route: its response, a 4xx for a DomainError, or a generic 500 for the rest."""
    try:
        return route(APIGatewayProxyEvent(event))
    except DomainError as error:
        result = error_response(error)
        logger.info(
            "request refused", extra={"status": result["statusCode"], "error_code": error.code}
        )
        return result
    except Exception:
        logger.exception("unhandled error")
        return response(500, INTERNAL)


def entrypoint(route: Route, logger: Logger, tracer: Tracer) -> Callable[..., dict[str, Any]]:
    """The function's `lambda_handler`: the request id as correlation id in every log line, an
    X-Ray segment (without the response, so items stay out of trace metadata), and `handle`."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return handle(route, event, logger)

    return lambda_handler
