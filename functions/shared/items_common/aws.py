"""The boto3 clients every module shares, and what an AWS failure means to a client.

Clients: short timeouts and botocore's standard retries (throttles, 5xx and network errors,
with jittered backoff); the request's deadline (deadline.py) bounds the whole of it. Made on
first use (cheap import; under moto, made inside the mock), each from the default session (so
hooks registered there, as the tests do, reach it too) with its calls timed for the request
line (observability.AWS_CALLS, by botocore's before-call / after-call events on the client).
Only modules that call AWS import this one (and boto3 with it): http imports it when a request
failed, so a route that calls no AWS service (health, openapi) never loads boto3.

An AWS error that outlasts those retries is not a bug of ours, so it is not a 500: `unavailable`
turns a throttle into errors.Throttled and any other fault AWS calls retryable (a 5xx, a
connection or read timeout) into errors.Unavailable, both 503 with Retry-After. Everything else
(access denied, a missing table, a malformed request) stays a 500: a fault of the deployment.
"""

from functools import cache, partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from .errors import Throttled, Unavailable, chain
from .observability import AWS_CALLS

CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"})

# Error codes AWS answers when it refuses for capacity: DynamoDB, S3 and the AWS-wide ones
# (botocore's standard retry mode treats the same codes as throttles).
THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
    "RequestLimitExceeded", "SlowDown", "TooManyRequestsException", "RequestThrottled",
    "RequestThrottledException", "TransactionInProgressException",
})  # fmt: skip
# A transaction's cancellation reasons that mean capacity or contention, not a condition.
CONTENTION_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded",
                                "TransactionConflict"})  # fmt: skip


def client(service: str) -> Any:
    """A new client of `service` with CONFIG, its calls timed (`timed`)."""
    made = boto3.client(service, config=CONFIG)
    timed(made, service)
    return made


def resource(service: str) -> Any:
    """A new resource of `service` with CONFIG, its client's calls timed (`timed`)."""
    made = boto3.resource(service, config=CONFIG)
    timed(made.meta.client, service)
    return made


@cache
def s3() -> Any:
    return client("s3")


def timed(made: Any, service: str) -> None:
    """Count and time every call of the client `made` into AWS_CALLS under `service`: from
    before-call to after-call, or to after-call-error when it raised (the whole call, whatever
    botocore retried inside it). The hooks are the client's own (botocore gives each client a
    copy of the session's events): other clients, e.g. a test's, are not counted."""
    events = made.meta.events
    events.register("before-call", partial(_call_started, service))
    events.register("after-call", partial(_call_ended, service))
    events.register("after-call-error", partial(_call_ended, service))


def _call_started(service: str, context: dict, **_: Any) -> None:
    AWS_CALLS.started(service, id(context))


def _call_ended(service: str, context: dict, **_: Any) -> None:
    AWS_CALLS.ended(service, id(context))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: ClientError) -> list[str]:
    """The Code of each item of a cancelled TransactWriteItems ("None" for the ones that were
    fine); [] for any other error."""
    if error_code(error) != "TransactionCanceledException":
        return []
    return [str(r.get("Code")) for r in error.response.get("CancellationReasons", [])]


def contended(error: ClientError) -> bool:
    """A transaction cancelled only for capacity or contention: worth retrying as it is."""
    reasons = set(cancellation_reasons(error)) - {"None"}
    return bool(reasons) and reasons <= CONTENTION_REASONS


def failure_code(error: BaseException) -> str:
    """The AWS error code (or exception class) of an AWS failure, for the log: never its
    message, which may name resources."""
    cause = error.__cause__ or error
    return error_code(cause) if isinstance(cause, ClientError) else type(cause).__name__


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 that an AWS failure (or one it caused, e.g. inside Powertools) stands for, or
    None for an error that is not AWS being unavailable."""
    for cause in chain(error):
        if isinstance(cause, ClientError):
            if error_code(cause) in THROTTLE_CODES or contended(cause):
                return Throttled("AWS is throttling requests; retry after the Retry-After delay")
            status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                return Unavailable("AWS is unavailable; retry after the Retry-After delay")
        elif isinstance(cause, ConnectionError | HTTPClientError):
            return Unavailable("AWS did not answer in time; retry after the Retry-After delay")
    return None
