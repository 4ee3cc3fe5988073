"""The boto3 clients every module shares, and what an AWS failure means to a client.

Clients: short timeouts and botocore's standard retries (throttles, 5xx and network errors,
with jittered backoff); the request's deadline (deadline.py) bounds the whole of it. Made on
first use (cheap import; under moto, made inside the mock).

An AWS error that outlasts those retries is not a bug of ours, so it is not a 500: `unavailable`
turns a throttle into errors.Throttled and any other fault AWS calls retryable (a 5xx, a
connection or read timeout) into errors.Unavailable, both 503 with Retry-After. Everything else
(access denied, a missing table, a malformed request) stays a 500: a fault of the deployment.
"""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from .errors import Throttled, Unavailable, chain

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


@cache
def s3() -> Any:
    return boto3.client("s3", config=CONFIG)


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
