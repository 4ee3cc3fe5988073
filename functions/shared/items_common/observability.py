"""What an operator sees of a request besides its answer: one log line and the business metrics.

The request line (http.handle logs it once per request, at INFO) carries, as top-level keys next
to Powertools' own (correlation_id = API Gateway's requestContext.requestId, function_request_id,
service, ...):

    {"message": "request", "route": "PUT /items/{id}", "status": 404,
     "error_code": "NOT_FOUND", "duration_ms": 12.345,
     "dynamodb_ms": 8.01, "dynamodb_calls": 1, "s3_ms": 0.0, "s3_calls": 0}

error_code for a 4xx and a 503 (a 500 has its own logger.exception line with the traceback). The
<service>_ms and <service>_calls keys say how much of the request went to AWS (AWS_CALLS): the
calls the request's code made to DynamoDB and S3, each timed from botocore's before-call to its
after-call, so one call includes its retries and their backoff; always present, 0 for none. Nothing
from the request body or an item is logged: items may hold personal data, and the route is the
resource template ("/items/{id}"), not the path with the id in it.

Metrics are CloudWatch EMF documents printed by Powertools Metrics: one Count of 1 per successful
write (ItemsCreated, ItemsUpdated, ItemsDeleted), in POWERTOOLS_METRICS_NAMESPACE with the
dimension service = POWERTOOLS_SERVICE_NAME; and RequestsThrottled, one per 503 THROTTLED
answer of any function, with the one dimension scope = api (count_throttled). It is published
right away rather than by @metrics.log_metrics, which would print a warning on every failed
write (no metric to publish).
"""

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

ITEMS_CREATED = "ItemsCreated"
ITEMS_UPDATED = "ItemsUpdated"
ITEMS_DELETED = "ItemsDeleted"

REQUEST = "request"  # the message of the request line
# The AWS services whose calls the request line reports (aws.py times every client it makes).
AWS_SERVICES = ("dynamodb", "s3")
# A request answered 503 THROTTLED; one dimension for all functions, so one alarm watches it.
REQUESTS_THROTTLED = "RequestsThrottled"
THROTTLED_DIMENSIONS = {"scope": "api"}


def route_of(event: dict[str, Any]) -> str:
    """ "<method> <resource>", e.g. "GET /items/{id}": the API's route, never the item's id."""
    return f"{event.get('httpMethod')} {event.get('resource')}"


class AwsCalls:
    """The AWS calls of the current request, per service: how many, and how long they took.

    aws.py registers botocore's before-call and after-call (or after-call-error) events on every
    client it makes: started/ended below. Those bound the whole call (retries and their backoff
    included, which before-send and response-received, once per HTTP attempt, would not). A call
    still open when the totals are read (the deadline interrupted it) counts until then; one
    whose before-call never reached us (a hook ahead of ours answered it, as botocore's Stubber
    does) counts with no time. One instance per process (AWS_CALLS): Lambda runs one request at
    a time, and http.handle resets it at the start of each."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._calls = dict.fromkeys(AWS_SERVICES, 0)
        self._seconds = dict.fromkeys(AWS_SERVICES, 0.0)
        self._open: dict[int, tuple[str, float]] = {}

    def started(self, service: str, call: int) -> None:
        """`call` (an id for the call, e.g. of its botocore context) began now."""
        if service in self._calls:
            self._calls[service] += 1
            self._open[call] = (service, time.perf_counter())

    def ended(self, service: str, call: int) -> None:
        opened = self._open.pop(call, None)
        if opened is None:
            if service in self._calls:
                self._calls[service] += 1
            return
        self._seconds[opened[0]] += time.perf_counter() - opened[1]

    def fields(self) -> dict[str, int | float]:
        """<service>_ms and <service>_calls for each of AWS_SERVICES."""
        now = time.perf_counter()
        seconds = dict(self._seconds)
        for service, began in self._open.values():
            seconds[service] += now - began
        fields: dict[str, int | float] = {}
        for service in AWS_SERVICES:
            fields[f"{service}_ms"] = round(seconds[service] * 1000, 3)
            fields[f"{service}_calls"] = self._calls[service]
        return fields


AWS_CALLS = AwsCalls()


def request_fields(
    event: dict[str, Any], status: int, error_code: str | None, started: float
) -> dict[str, Any]:
    """The request line's keys; `started` is the time.perf_counter() of the request's start."""
    fields: dict[str, Any] = {"route": route_of(event), "status": status}
    if error_code is not None and status != 500:
        fields["error_code"] = error_code
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return fields | AWS_CALLS.fields()


def count(metrics: Metrics, name: str, logger: Logger) -> None:
    """Publish a Count of 1 of `name` now (one EMF document on stdout). A metric that cannot be
    published (e.g. no namespace configured) is logged, never raised: the write it counts has
    happened, and failing its answer would only make the client retry it."""
    try:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
    except Exception:
        logger.exception("metric not published", extra={"metric": name})
    finally:
        # Nothing may carry over into a later request's document: neither a metric that failed
        # to publish nor one that flush keeps when POWERTOOLS_METRICS_DISABLED is set.
        metrics.clear_metrics()


def count_throttled(logger: Logger) -> None:
    """Publish one RequestsThrottled now: an EMF document of its own, written here because
    Powertools adds the function's service dimension to every metric, and an alarm cannot sum a
    metric over dimension values (no SEARCH in alarms)."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    if not namespace:
        logger.warning("metric not published: no namespace", extra={"metric": REQUESTS_THROTTLED})
        return
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [sorted(THROTTLED_DIMENSIONS)],
                "Metrics": [{"Name": REQUESTS_THROTTLED, "Unit": "Count"}],
            }],
        },
        **THROTTLED_DIMENSIONS,
        REQUESTS_THROTTLED: 1,
    }  # fmt: skip
    print(json.dumps(document, separators=(",", ":")), flush=True)
