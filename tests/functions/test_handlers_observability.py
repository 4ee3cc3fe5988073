"""What the handlers print besides their answer, as CloudWatch would receive it: one JSON request
line per request (Powertools Logger), with the time and count of the request's own DynamoDB and
S3 calls, and, for each successful write, one EMF metric document (Powertools Metrics).
items_common.observability documents both shapes.

Everything is read from the captured stdout, line by line, as JSON: the Lambda runtime ships
stdout to CloudWatch Logs, which extracts the EMF documents into metrics.
"""

import io
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from botocore.awsrequest import AWSResponse

from items_common import http
from tests.handler_client import drop_table
from tests.handlers import api_event, load_handler

ITEM_ID = "obs-item-7f3a"
# Values that must never reach a log line or a metric: they stand for personal data in an item.
SECRET_VALUE = "s3cret-ssn-078-05-1120"
SECRET_NAME = "private-attribute-name-k9"
SECRET_BODY = json.dumps({SECRET_NAME: SECRET_VALUE, "note": SECRET_VALUE + "-note"})
WRITES = {
    "create_item": "ItemsCreated",
    "update_item": "ItemsUpdated",
    "delete_item": "ItemsDeleted",
}


@dataclass
class Printed:
    """One invocation's stdout, every line parsed as JSON (a line that is not JSON fails)."""

    raw: str
    records: list[dict[str, Any]]

    @classmethod
    def parse(cls, raw: str) -> "Printed":
        return cls(raw, [json.loads(line) for line in raw.splitlines() if line.strip()])

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The EMF documents."""
        return [r for r in self.records if "_aws" in r]

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The log lines (Powertools Logger)."""
        return [r for r in self.records if "_aws" not in r]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request lines."""
        return [r for r in self.logs if r["message"] == "request"]


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> str:
    """A service name of this test's own: the metrics' service dimension, and a fresh Powertools
    Logger (its handler then writes to this test's captured stdout)."""
    name = f"items-api-test-obs-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", name)
    return name


@pytest.fixture
def run(service: str, lambda_context: Any, capsys: pytest.CaptureFixture) -> Callable:
    """run(function, event) -> (statusCode, Printed): one cold-started invocation and only what
    it printed (anything printed before is dropped)."""

    def invoke(function: str, event: dict) -> tuple[int, Printed]:
        capsys.readouterr()
        status = load_handler(function).lambda_handler(event, lambda_context)["statusCode"]
        out = capsys.readouterr()
        assert SECRET_VALUE not in out.err and SECRET_NAME not in out.err
        return status, Printed.parse(out.out)

    return invoke


def _one(item_id: str = ITEM_ID) -> dict:
    return {"path_parameters": {"id": item_id}}


def _post(body: str) -> dict:
    return api_event("POST", "/items", body=body)


def _put(body: str, item_id: str = ITEM_ID) -> dict:
    return api_event("PUT", f"/items/{item_id}", body=body, **_one(item_id))


def _delete(item_id: str = ITEM_ID) -> dict:
    return api_event("DELETE", f"/items/{item_id}", **_one(item_id))


def _secret_item(item_id: str = ITEM_ID) -> str:
    return json.dumps({"id": item_id, SECRET_NAME: SECRET_VALUE})


def _event(function: str) -> dict:
    """A request for `function` that succeeds once ITEM_ID exists (writes carry the secret)."""
    return {
        "health": lambda: api_event("GET", "/"),
        "list_items": lambda: api_event("GET", "/items"),
        "get_item": lambda: api_event("GET", f"/items/{ITEM_ID}", **_one()),
        "list_versions": lambda: api_event("GET", f"/items/{ITEM_ID}/versions", **_one()),
        "create_item": lambda: _post(_secret_item("fresh-id")),
        "update_item": lambda: _put(SECRET_BODY),
        "delete_item": lambda: _delete(),
    }[function]()


@pytest.fixture(params=["plain", "history"])
def any_mode_stack(request: pytest.FixtureRequest, make_stack: Callable) -> Any:
    """Both storage modes: a write is a write (and counted) whichever the table's layout."""
    return make_stack(**({"SortKeyName": "timestamp"} if request.param == "history" else {}))


def _existing(run: Callable) -> None:
    """ITEM_ID exists (created through the API, holding the secret)."""
    status, _ = run("create_item", _post(_secret_item()))
    assert status == 201


# -- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "event", "status", "needs_item"),
    [
        ("create_item", _post(_secret_item()), 201, False),
        ("create_item", _post(SECRET_BODY), 201, False),  # server-chosen id
        ("update_item", _put(SECRET_BODY), 200, True),
        ("update_item", _put(_secret_item()), 200, True),  # body id = path id
        ("delete_item", _delete(), 204, True),
    ],
    ids=["post", "post-without-id", "put", "put-with-id", "delete"],
)
def test_a_successful_write_publishes_exactly_one_count(
    any_mode_stack, run, service, function, event, status, needs_item
):
    if needs_item:
        _existing(run)
    answered, printed = run(function, event)
    assert answered == status
    [document] = printed.metrics
    name = WRITES[function]
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "items-api-test",  # POWERTOOLS_METRICS_NAMESPACE, set by aws_env
            "Dimensions": [["service"]],
            "Metrics": [{"Name": name, "Unit": "Count"}],
        }
    ]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert document["service"] == service
    assert document[name] == [1]
    assert set(document) == {"_aws", "service", name}  # nothing of the item rides along


def test_the_namespace_is_the_environments(items_table, run, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "items-api-prod")
    status, printed = run("create_item", _post(_secret_item()))
    assert status == 201
    [document] = printed.metrics
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "items-api-prod"


@pytest.mark.parametrize(
    ("function", "event", "status", "needs_item"),
    [
        ("create_item", _post(_secret_item()), 409, True),  # the id exists
        ("create_item", _post('{"id": "x", '), 400, False),
        ("create_item", _post(json.dumps({"id": ITEM_ID, "created_at": "x"})), 400, False),
        ("update_item", _put(SECRET_BODY), 404, False),  # missing: never an upsert
        ("update_item", _put(_secret_item("other-id")), 400, True),  # id cannot change
        ("delete_item", _delete(), 404, False),
        ("delete_item", _delete("bad id!"), 400, False),
    ],
    ids=[
        "post-existing",
        "post-bad-json",
        "post-server-field",
        "put-missing",
        "put-other-id",
        "delete-missing",
        "delete-bad-id",
    ],
)
def test_a_refused_write_publishes_nothing(items_table, run, function, event, status, needs_item):
    if needs_item:
        _existing(run)
    answered, printed = run(function, event)
    assert answered == status
    assert printed.metrics == []


@pytest.mark.parametrize("function", list(WRITES))
def test_a_failed_write_publishes_nothing(items_table, run, function):
    _existing(run)
    drop_table(items_table)  # every AWS call now fails: a 500
    answered, printed = run(function, _event(function))
    assert answered == 500
    assert printed.metrics == []


@pytest.mark.parametrize("function", ["get_item", "list_items", "list_versions", "health"])
def test_reads_publish_nothing(items_table, run, function):
    _existing(run)
    _, printed = run(function, _event(function))
    assert printed.metrics == []


def test_a_metric_that_cannot_be_published_leaves_the_answer_and_the_next_request_alone(
    items_table, run, monkeypatch
):
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")  # EMF refuses a document without one
    status, printed = run("create_item", _post(_secret_item()))
    assert status == 201  # the item was written: the client must not be told otherwise
    assert printed.metrics == []
    [error] = [r for r in printed.logs if r["message"] == "metric not published"]
    assert (error["level"], error["metric"]) == ("ERROR", "ItemsCreated")

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "items-api-test")
    status, printed = run("delete_item", _delete())
    assert status == 204
    [document] = printed.metrics  # the unpublished ItemsCreated did not carry over
    assert [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "ItemsDeleted"
    ]
    assert document["ItemsDeleted"] == [1]


def test_entrypoint_wants_both_metrics_and_a_metric_name_or_neither(aws_env):
    """A metric name without its Metrics (or the reverse) would silently count nothing."""
    with pytest.raises(TypeError):
        http.entrypoint(lambda event: {}, Logger(), Metrics())
    with pytest.raises(TypeError):
        http.entrypoint(lambda event: {}, Logger(), metric="ItemsCreated")


# -- the request line --------------------------------------------------------------------------


REQUESTS = [
    # (function, event, needs_item, status, route, error_code)
    ("health", _event("health"), False, 200, "GET /", None),
    ("list_items", _event("list_items"), True, 200, "GET /items", None),
    (
        "list_items",
        api_event("GET", "/items", query={"limit": "0"}),
        False,
        400,
        "GET /items",
        "INVALID_LIMIT",
    ),
    ("get_item", _event("get_item"), True, 200, "GET /items/{id}", None),
    ("get_item", _event("get_item"), False, 404, "GET /items/{id}", "NOT_FOUND"),
    ("list_versions", _event("list_versions"), True, 200, "GET /items/{id}/versions", None),
    ("create_item", _post(_secret_item()), False, 201, "POST /items", None),
    ("create_item", _post(_secret_item()), True, 409, "POST /items", "CONFLICT"),
    ("create_item", _post("[" + SECRET_BODY), False, 400, "POST /items", "INVALID_JSON"),
    ("create_item", _post(f'["{SECRET_VALUE}"]'), False, 400, "POST /items", "INVALID_ITEM"),
    ("update_item", _put(SECRET_BODY), True, 200, "PUT /items/{id}", None),
    ("update_item", _put(SECRET_BODY), False, 404, "PUT /items/{id}", "NOT_FOUND"),
    (
        "update_item",
        _put(json.dumps({SECRET_NAME: SECRET_VALUE, "updated_at": "x"})),
        True,
        400,
        "PUT /items/{id}",
        "INVALID_ITEM",
    ),
    ("update_item", _put("x" * (64 * 1024 + 1)), True, 413, "PUT /items/{id}", "PAYLOAD_TOO_LARGE"),
    ("delete_item", _delete(), True, 204, "DELETE /items/{id}", None),
    ("delete_item", _delete(), False, 404, "DELETE /items/{id}", "NOT_FOUND"),
]


@pytest.mark.parametrize(
    ("function", "event", "needs_item", "status", "route", "error_code"),
    REQUESTS,
    ids=[f"{r[0]}-{r[3]}" + ("-" + r[5].lower() if r[5] else "") for r in REQUESTS],
)
def test_every_request_logs_one_line_with_route_status_and_duration(
    items_table, run, function, event, needs_item, status, route, error_code
):
    if needs_item:
        _existing(run)
    answered, printed = run(function, event)
    assert answered == status
    [line] = printed.requests
    assert line["level"] == "INFO"
    assert line["correlation_id"] == event["requestContext"]["requestId"]
    assert (line["route"], line["status"]) == (route, status)
    assert line.get("error_code") == error_code  # present exactly for a 4xx
    duration = line["duration_ms"]
    assert isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0
    for service in ("dynamodb", "s3"):
        spent, calls = line[f"{service}_ms"], line[f"{service}_calls"]
        assert type(calls) is int and calls >= 0
        assert isinstance(spent, int | float) and not isinstance(spent, bool)
        assert 0 <= spent <= duration and (spent > 0) == (calls > 0)
    assert [r["message"] for r in printed.logs] == ["request"]  # nothing else was logged
    # No attribute name or value of the item, nor its id, in any line or metric.
    for secret in (SECRET_VALUE, SECRET_NAME, ITEM_ID):
        assert secret not in printed.raw


@pytest.mark.parametrize("function", [*WRITES, "get_item", "list_items"])
def test_a_500_logs_the_exception_and_the_request_line(items_table, run, function):
    _existing(run)
    drop_table(items_table)
    answered, printed = run(function, _event(function))
    assert answered == 500
    [line] = printed.requests
    assert (line["status"], line["level"]) == (500, "INFO")
    assert "error_code" not in line  # a 500 has its own line, with the traceback
    [error] = [r for r in printed.logs if r["message"] == "unhandled error"]
    assert error["level"] == "ERROR" and "exception" in error
    assert error["correlation_id"] == line["correlation_id"]
    assert SECRET_VALUE not in printed.raw and SECRET_NAME not in printed.raw


def test_the_correlation_id_is_each_requests_own(items_table, run):
    event = _event("list_items")
    event["requestContext"]["requestId"] = "another-request-id-42"
    _, printed = run("list_items", event)
    [line] = printed.requests
    assert line["correlation_id"] == "another-request-id-42"


# -- the AWS calls in the request line ---------------------------------------------------------

AWS_FIELDS = ("dynamodb_ms", "dynamodb_calls", "s3_ms", "s3_calls")


def _aws(line: dict[str, Any]) -> dict[str, Any]:
    return {key: line[key] for key in AWS_FIELDS}


def _attached(run: Callable) -> None:
    """ITEM_ID exists with an attachment (file_content in S3)."""
    body = json.dumps({"id": ITEM_ID, "file_content": "attached " + SECRET_VALUE})
    status, _ = run("create_item", _post(body))
    assert status == 201


def test_a_request_without_aws_calls_logs_none(items_table, run):
    _, printed = run("health", _event("health"))
    [line] = printed.requests
    assert _aws(line) == {"dynamodb_ms": 0, "dynamodb_calls": 0, "s3_ms": 0, "s3_calls": 0}


def test_a_read_of_an_item_with_an_attachment_logs_its_dynamodb_and_s3_calls(any_mode_stack, run):
    _attached(run)
    status, printed = run("get_item", _event("get_item"))
    assert status == 200
    [line] = printed.requests
    assert line["dynamodb_calls"] >= 1 and line["s3_calls"] >= 1
    assert line["dynamodb_ms"] > 0 and line["s3_ms"] > 0
    assert line["dynamodb_ms"] + line["s3_ms"] <= line["duration_ms"]


def test_a_write_with_an_attachment_logs_both_services(any_mode_stack, run):
    body = json.dumps({"id": ITEM_ID, "file_content": "attached"})
    status, printed = run("create_item", _post(body))
    assert status == 201
    [line] = printed.requests
    assert line["dynamodb_calls"] >= 1 and line["s3_calls"] == 1  # the object's one PutObject


def test_each_request_logs_its_own_calls(items_table, run, lambda_context, capsys):
    """The totals start again with every request of a warm container: the second identical
    request logs what the first did, not twice as much."""
    _attached(run)
    handler = load_handler("get_item").lambda_handler
    capsys.readouterr()
    for _ in range(2):
        assert handler(_event("get_item"), lambda_context)["statusCode"] == 200
    first, second = Printed.parse(capsys.readouterr().out).requests
    assert first["dynamodb_calls"] == second["dynamodb_calls"] >= 1
    assert first["s3_calls"] == second["s3_calls"] >= 1


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def test_one_call_is_timed_whole_with_its_retries_beside_the_sessions_own_hooks(
    items_table, run, dynamodb_hooks
):
    """A call botocore retried counts once, and its time covers every attempt and the backoff
    between them; hooks registered on the default session (here, a throttle for the first
    attempt of GetItem and a slow answer for the second) still run on the handlers' clients."""
    _existing(run)
    attempts: list[float] = []

    def throttle_once_then_slow(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(time.perf_counter())
        if len(attempts) > 1:
            time.sleep(0.05)  # then moto answers
            return None
        request.url = "https://fault.invalid/"  # so moto's own before-send hook lets it pass
        body = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
        return AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))

    dynamodb_hooks("before-send.dynamodb.GetItem", throttle_once_then_slow)
    started = time.perf_counter()
    status, printed = run("get_item", _event("get_item"))
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert status == 200 and len(attempts) == 2
    [line] = printed.requests
    assert line["dynamodb_calls"] == 1  # plain mode, no attachment: one GetItem, two attempts
    spanned_ms = (attempts[1] - attempts[0]) * 1000 + 50  # the backoff, then the slow answer
    assert spanned_ms <= line["dynamodb_ms"] <= line["duration_ms"] <= elapsed_ms
    assert line["s3_calls"] == 0


def test_a_call_that_fails_is_counted_too(items_table, run):
    _existing(run)
    drop_table(items_table)  # every DynamoDB call now fails (ResourceNotFoundException)
    status, printed = run("get_item", _event("get_item"))
    assert status == 500
    [line] = printed.requests
    assert line["dynamodb_calls"] >= 1 and line["dynamodb_ms"] > 0
