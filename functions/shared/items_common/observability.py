"""What an operator sees of a request besides its answer: one log line and the business metrics.

The request line (http.handle logs it once per request, at INFO) carries, as top-level keys next
to Powertools' own (correlation_id = API Gateway's requestContext.requestId, function_request_id,
service, ...):

    {"message": "request", "route": "PUT /items/{id}", "status": 404,
     "error_code": "NOT_FOUND", "duration_ms": 12.345}

error_code for a 4xx and a 503 (a 500 has its own logger.exception line with the traceback). Nothing
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
# A request answered 503 THROTTLED; one dimension for all functions, so one alarm watches it.
REQUESTS_THROTTLED = "RequestsThrottled"
THROTTLED_DIMENSIONS = {"scope": "api"}


def route_of(event: dict[str, Any]) -> str:
    """ "<method> <resource>", e.g. "GET /items/{id}": the API's route, never the item's id."""
    return f"{event.get('httpMethod')} {event.get('resource')}"


def request_fields(
    event: dict[str, Any], status: int, error_code: str | None, started: float
) -> dict[str, Any]:
    """The request line's keys; `started` is the time.perf_counter() of the request's start."""
    fields: dict[str, Any] = {"route": route_of(event), "status": status}
    if error_code is not None and status != 500:
        fields["error_code"] = error_code
    fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return fields


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
