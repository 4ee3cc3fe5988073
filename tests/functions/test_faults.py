"""AWS failing under the API (#16 items 1-3), in both table modes, on the template's own table
and bucket (moto):

- a contended history-mode transaction is retried (dynamo.optimistic, history.create), then
  answered 409/412 when another writer won, or 503 THROTTLED when none did;
- a throttle that outlasts botocore's retries is 503 THROTTLED, a 5xx 503 UNAVAILABLE, both with
  Retry-After and a JSON body; an error AWS does not call retryable stays the generic 500;
- the request's deadline (deadline.py) answers 503 TIMEOUT before Lambda or API Gateway would cut
  the request off, and leaves no timer behind.

Faults are injected at the HTTP layer: a botocore `before-send` hook answers AWS's error
response (the request never reaches moto), so botocore parses it as it would AWS's and its own
retries run: the hook counts the attempts it saw.

AWS references: TransactWriteItems and its cancellation reasons
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html ;
DynamoDB errors and retries
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html ;
S3 error responses (SlowDown) https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html ;
the Lambda context https://docs.aws.amazon.com/lambda/latest/dg/python-context.html ;
API Gateway's 29 s integration timeout
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
"""

import contextlib
import gc
import io
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff

from items_common import deadline
from items_common.dynamo import UPDATE_ATTEMPTS
from templates.catalog import FUNCTIONS
from tests.handler_client import (
    GENERIC_500,
    Reply,
    concurrent_writer,
    create,
    head_key,
    history,
    invoke,
    reply_of,
)
from tests.handlers import FakeContext, api_event, load_handler

ITEM = "doc"  # exists before each test, with an attachment
FRESH = "fresh"  # created by the tests' POSTs
CATALOG = {spec.name: spec.statuses for spec in FUNCTIONS}
HISTORY = pytest.mark.parametrize("stack", ["history"], indirect=True)
PLAIN = pytest.mark.parametrize("stack", ["plain"], indirect=True)


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One API request, as API Gateway sends it to `function`."""

    function: str
    method: str
    item_id: str | None = None  # None: the collection
    body: dict | None = None
    suffix: str = ""
    ok: int = 200  # its success status
    headers: dict | None = None

    def event(self, **kwargs: Any) -> dict:
        path = "/items" if self.item_id is None else f"/items/{self.item_id}{self.suffix}"
        return api_event(
            self.method,
            path,
            path_parameters=None if self.item_id is None else {"id": self.item_id},
            body=None if self.body is None else json.dumps(self.body),
            **{"headers": self.headers, **kwargs},
        )

    def send(self, context: Any, **kwargs: Any) -> Reply:
        """Its answer (a status catalog.py lists for the function: handler_client.invoke)."""
        return invoke(self.function, self.event(**kwargs), context)

    def __str__(self) -> str:
        attachment = "+file" if "file_content" in (self.body or {}) else ""
        keyed = "+key" if self.headers else ""
        return f"{self.method}{self.suffix}{attachment}{keyed}"


PUT = Request("update_item", "PUT", ITEM, {"v": 2})
PATCH = Request("patch_item", "PATCH", ITEM, {"v": 2})
DELETE = Request("delete_item", "DELETE", ITEM, ok=204)
POST = Request("create_item", "POST", body={"id": FRESH, "v": 2}, ok=201)
KEYED = Request(
    "create_item", "POST", body={"id": FRESH}, ok=201, headers={"Idempotency-Key": "key-1"}
)
UPLOAD = Request("create_item", "POST", body={"id": FRESH, "file_content": "new"}, ok=201)
GET = Request("get_item", "GET", ITEM)
LIST = Request("list_items", "GET")
VERSIONS = Request("list_versions", "GET", ITEM, suffix="/versions")
UPDATES = (PUT, PATCH, DELETE)  # the writes to an existing item
WRITES = (*UPDATES, POST)


def head_row(stack: Any, item_id: str = ITEM) -> dict | None:
    """The item's row (history mode: its head), as the table holds it."""
    return stack.table.get_item(Key=head_key(stack, item_id), ConsistentRead=True).get("Item")


def written(stack: Any, request: Request) -> bool:
    """Whether `request` (one of WRITES) is what the item's row now holds."""
    row = head_row(stack, request.item_id or FRESH)
    if request is DELETE:
        return row is None or "deleted_at" in row
    version = 1 if request is POST else 2
    return row is not None and (row.get("v"), row["version"]) == (2, version)


def head_version(stack: Any, item_id: str = ITEM) -> int | None:
    row = head_row(stack, item_id)
    return None if row is None else int(row["version"])


# -- faults at the HTTP layer -------------------------------------------------------------------


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


@dataclass
class Fault:
    """A before-send hook: answers AWS's error response to the first `times` attempts of an
    operation (every attempt when None) instead of letting it reach moto, after running `before`
    (a concurrent writer); counts every attempt it saw."""

    status: int
    content_type: str
    body: bytes
    times: int | None = None
    before: Callable[[], Any] | None = None
    attempts: int = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.attempts += 1
        if self.times is not None and self.attempts > self.times:
            return None
        if self.before is not None:
            self.before()
        request.url = "https://fault.invalid/"  # so moto's own before-send hook lets it pass
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": "fault"}
        return AWSResponse(request.url, self.status, headers, _Body(self.body))


def dynamodb_error(code: str, status: int = 400, **fields: Any) -> Fault:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected", **fields}
    return Fault(status, "application/x-amz-json-1.0", json.dumps(body).encode())


def cancelled(reason: str, times: int | None = None) -> Fault:
    """TransactWriteItems cancelled for `reason` on the first of its two items (the head; the
    version row was fine), as DynamoDB answers a transaction that met another or a throttle."""
    reasons = [{"Code": reason, "Message": "injected"}, {"Code": "None"}]
    fault = dynamodb_error(
        "TransactionCanceledException",
        message="Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{reason}, None]",
        CancellationReasons=reasons,
    )
    fault.times = times
    return fault


def s3_error(code: str, status: int) -> Fault:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    return Fault(status, "application/xml", body.encode())


@dataclass
class Hang:
    """A before-send hook that blocks like a call AWS never answers (for `seconds`), while on;
    records whether it was interrupted."""

    seconds: float = 10.0
    on: bool = True
    attempts: int = 0
    finished: int = 0

    def __call__(self, **_: Any) -> None:
        if self.on:
            self.attempts += 1
            time.sleep(self.seconds)
            self.finished += 1


# What a test names an operation by: one name, or (plain, history) when the modes differ.
Operation = str | tuple[str, str]


@pytest.fixture
def inject(stack, dynamodb_hooks) -> Callable[[str, Operation, Callable], Callable]:
    """inject(service, operation, hook) -> hook: on every call the handlers make. Depends on the
    stack first, so the stack's own table (a concurrent writer's) is never hooked."""

    def register(service: str, operation: Operation, hook: Callable) -> Callable:
        if isinstance(operation, tuple):
            operation = operation[history(stack)]
        dynamodb_hooks(f"before-send.{service}.{operation}", hook)
        return hook

    return register


@pytest.fixture
def seeded(stack, lambda_context) -> Any:
    """The stack, with ITEM (version 1, an attachment) created through the API."""
    create(lambda_context, {"id": ITEM, "v": 1, "file_content": "attached"})
    return stack


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retries without their sleeps (a throttle's backoff is up to 1, 2, 4 s
    per attempt): the attempts still happen, and the hooks count them."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def exposed(reply: Reply) -> set[str]:
    return {h.strip() for h in reply.headers.get("Access-Control-Expose-Headers", "").split(",")}


def assert_unavailable(reply: Reply, request: Request, code: str) -> None:
    """A 503 of catalog.py's statuses for the route: our JSON error with `code`, Retry-After: 1
    that a browser may read, the CORS headers, and nothing of AWS's answer."""
    assert (reply.status, reply.error_code) == (503, code), reply.raw
    assert 503 in CATALOG[request.function]
    assert set(reply.body) == {"error"} and set(reply.body["error"]) == {"code", "message"}
    assert reply.headers["Retry-After"] == "1"
    assert "Retry-After" in exposed(reply)
    assert reply.headers["Access-Control-Allow-Origin"]
    for leaked in ("injected", "Traceback", "Exception", "fault.invalid"):
        assert leaked not in reply.raw


def log_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# -- contended transactions (history mode) ------------------------------------------------------


@HISTORY
@pytest.mark.parametrize("reason", ["TransactionConflict", "ThrottlingError"])
@pytest.mark.parametrize("request_", WRITES, ids=str)
def test_a_transaction_contended_a_few_times_is_retried_and_written(
    seeded, inject, lambda_context, request_, reason
):
    """DynamoDB cancels a TransactWriteItems with the reason TransactionConflict when another
    transaction is using one of its items, and ThrottlingError when it throttles one; both are
    worth retrying as they are (API_TransactWriteItems.html, Programming.Errors.html). botocore
    does not retry a cancellation (a 400), so the store does: each attempt is one request, and
    once one passes (here the last the budget allows) the write answers its usual status and
    is really stored."""
    times = UPDATE_ATTEMPTS - 1
    fault = inject("dynamodb", "TransactWriteItems", cancelled(reason, times))

    reply = request_.send(lambda_context)

    assert reply.status == request_.ok, reply.raw
    assert fault.attempts == times + 1
    assert written(seeded, request_)


@HISTORY
@pytest.mark.parametrize("request_", WRITES, ids=str)
def test_a_transaction_contended_on_every_attempt_is_503_throttled(
    seeded, inject, lambda_context, fresh_logger, capsys, request_
):
    """A TransactWriteItems cancelled for TransactionConflict on every attempt, while the item's
    version never moves (no other writer won: contention with no winner), is DynamoDB refusing
    for now (API_TransactWriteItems.html): 503 THROTTLED with Retry-After, nothing written, and
    one RequestsThrottled EMF document (dimension scope=api) for the throttling alarm."""
    fault = inject("dynamodb", "TransactWriteItems", cancelled("TransactionConflict"))
    capsys.readouterr()

    reply = request_.send(lambda_context)

    assert_unavailable(reply, request_, "THROTTLED")
    assert fault.attempts == UPDATE_ATTEMPTS
    assert head_version(seeded, request_.item_id or FRESH) == (None if request_ is POST else 1)
    lines = log_lines(capsys.readouterr().out)
    [metric] = [line for line in lines if "RequestsThrottled" in line]
    assert (metric["RequestsThrottled"], metric["scope"]) == (1, "api")
    [definition] = metric["_aws"]["CloudWatchMetrics"]
    assert definition["Dimensions"] == [["scope"]]
    assert definition["Metrics"] == [{"Name": "RequestsThrottled", "Unit": "Count"}]


@HISTORY
@pytest.mark.parametrize(
    ("if_match", "times", "status", "code"),
    [
        (None, None, 409, "CONFLICT"),  # the winner's version, then contended to the end
        ('"1"', 1, 412, "PRECONDITION_FAILED"),  # the client's version is stale now
        (None, 1, None, None),  # the retry applies to the winner's version
    ],
    ids=["conflict", "precondition", "retried"],
)
@pytest.mark.parametrize("request_", UPDATES, ids=str)
def test_a_transaction_that_lost_to_another_writer(
    seeded, inject, lambda_context, request_, if_match, times, status, code
):
    """TransactionConflict because another writer's transaction on the item won
    (API_TransactWriteItems.html): the hook writes the item's next version through another
    client, then cancels ours. Retried from a fresh read, that is a 412 when If-Match named the
    old version; without one, a write that keeps being cancelled is 409 CONFLICT (someone else
    won, so not a throttle), and one that passes applies to the winner's version."""
    winner = concurrent_writer(seeded.table, head_key(seeded, ITEM), times=1)
    fault = inject("dynamodb", "TransactWriteItems", cancelled("TransactionConflict", times))
    fault.before = winner
    headers = {"If-Match": if_match} if if_match else None

    reply = request_.send(lambda_context, headers=headers)

    if status is None:
        assert reply.status == request_.ok, reply.raw
        assert head_version(seeded) == 3
    else:
        assert (reply.status, reply.error_code) == (status, code), reply.raw
        assert head_version(seeded) == 2  # the winner's, nothing of ours
    assert fault.attempts == (times or UPDATE_ATTEMPTS) + (status is None)


# -- throttles, 5xx and errors that are no one's capacity (both modes) --------------------------


@dataclass(frozen=True)
class Error:
    """An AWS error response: its service, code and HTTP status."""

    service: str
    code: str
    status: int

    def fault(self) -> Fault:
        if self.service == "dynamodb":
            return dynamodb_error(self.code, self.status)
        return s3_error(self.code, self.status)

    def __str__(self) -> str:
        return self.code


def case_id(value: Any) -> str:
    """A test id: a request, an operation (plain/history when they differ), an error."""
    return "/".join(value) if isinstance(value, tuple) else str(value)


DDB_THROTTLE = Error("dynamodb", "ProvisionedThroughputExceededException", 400)
SLOW_DOWN = Error("s3", "SlowDown", 503)
THROTTLES = [
    (GET, "GetItem", DDB_THROTTLE),
    (POST, ("PutItem", "TransactWriteItems"), DDB_THROTTLE),
    (KEYED, "PutItem", DDB_THROTTLE),  # the key's record
    # plain: the key's record again; history: the item, once the record is written
    (KEYED, ("PutItem", "TransactWriteItems"), DDB_THROTTLE),
    (PUT, ("UpdateItem", "TransactWriteItems"), DDB_THROTTLE),
    (LIST, "Scan", DDB_THROTTLE),
    (VERSIONS, ("GetItem", "Query"), DDB_THROTTLE),
    (UPLOAD, "PutObject", SLOW_DOWN),
    (GET, "GetObject", SLOW_DOWN),
]


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(("request_", "operation", "error"), THROTTLES, ids=case_id)
def test_a_throttle_past_botocores_retries_is_503_throttled(
    seeded, inject, lambda_context, request_, operation, error
):
    """DynamoDB answers ProvisionedThroughputExceededException (400) and S3 SlowDown (503) when
    they refuse for capacity; the SDKs retry both with backoff (Programming.Errors.html,
    ErrorResponses.html). Refused on every attempt, the request is 503 THROTTLED with
    Retry-After: 1, after botocore's retries ran."""
    fault = inject(error.service, operation, error.fault())

    reply = request_.send(lambda_context)

    assert_unavailable(reply, request_, "THROTTLED")
    assert fault.attempts > 1  # botocore retried


UNAVAILABLE = [
    (GET, "GetItem", Error("dynamodb", "InternalServerError", 500)),
    (LIST, "Scan", Error("dynamodb", "InternalServerError", 500)),
    (PUT, ("UpdateItem", "TransactWriteItems"), Error("dynamodb", "InternalServerError", 500)),
    (DELETE, ("DeleteItem", "TransactWriteItems"), Error("dynamodb", "ServiceUnavailable", 503)),
    (GET, "GetObject", Error("s3", "InternalError", 500)),
    (UPLOAD, "PutObject", Error("s3", "ServiceUnavailable", 503)),
]


@pytest.mark.parametrize(("request_", "operation", "error"), UNAVAILABLE, ids=case_id)
def test_a_5xx_past_botocores_retries_is_503_unavailable(
    seeded, inject, lambda_context, request_, operation, error
):
    """A 5xx (InternalServerError, ServiceUnavailable) is AWS's fault and retryable
    (Programming.Errors.html, ErrorResponses.html): past botocore's retries it is 503
    UNAVAILABLE with Retry-After, not a 500, and no trace of the error reaches the client."""
    fault = inject(error.service, operation, error.fault())

    reply = request_.send(lambda_context)

    assert_unavailable(reply, request_, "UNAVAILABLE")
    assert fault.attempts > 1


BROKEN = [
    (GET, "GetItem", Error("dynamodb", "AccessDeniedException", 400)),
    (LIST, "Scan", Error("dynamodb", "ValidationException", 400)),
    (POST, ("PutItem", "TransactWriteItems"), Error("dynamodb", "ResourceNotFoundException", 400)),
    (UPLOAD, "PutObject", Error("s3", "AccessDenied", 403)),
]


@pytest.mark.parametrize(("request_", "operation", "error"), BROKEN, ids=case_id)
def test_an_error_aws_does_not_retry_is_the_generic_500(
    seeded, inject, lambda_context, request_, operation, error
):
    """AccessDeniedException, ValidationException, ResourceNotFoundException (DynamoDB, 400) and
    AccessDenied (S3, 403) are not retryable: the request or the deployment is wrong
    (Programming.Errors.html, ErrorResponses.html). botocore does not retry them and the API
    answers its generic 500, which pages as a bug: neither a 503 nor a Retry-After."""
    fault = inject(error.service, operation, error.fault())

    reply = request_.send(lambda_context)

    assert (reply.status, reply.body) == (500, GENERIC_500)
    assert "Retry-After" not in reply.headers
    assert fault.attempts == 1


# -- the request's deadline ---------------------------------------------------------------------


def assert_timeout(reply: Reply, request: Request, hang: Hang) -> None:
    assert_unavailable(reply, request, "TIMEOUT")
    assert hang.finished == 0  # the hung call was interrupted, not waited for


@PLAIN
@pytest.mark.parametrize(
    ("request_", "operation"), [(GET, "GetItem"), (PUT, "UpdateItem")], ids=case_id
)
def test_a_hung_call_is_503_timeout_before_the_function_times_out(
    seeded, inject, request_, operation
):
    """Lambda ends an invocation at the function's timeout, which the context's
    get_remaining_time_in_millis counts down to (python-context.html); the client would then get
    API Gateway's bare 502. A call that hangs is cut off at the deadline (the remaining time
    less a margin) and answered 503 TIMEOUT, JSON with Retry-After, while time remains."""
    hang = inject("dynamodb", operation, Hang())
    context = FakeContext(timeout_s=3)

    reply = request_.send(context)

    assert_timeout(reply, request_, hang)
    assert context.get_remaining_time_in_millis() > 0


@dataclass
class Endpoint:
    """A DynamoDB endpoint on a loopback port, past moto, that is `behaviour`: "silent"
    accepts connections and never answers (the kernel completes the handshake, nothing reads),
    "closing" closes each connection at once, "refused" has nothing listening."""

    behaviour: str
    server: socket.socket = field(init=False)
    url: str = field(init=False)
    connections: int = 0
    closer: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        host, port = self.server.getsockname()
        self.url = f"http://{host}:{port}"
        if self.behaviour == "closing":
            self.server.settimeout(0.05)
            self.closer = threading.Thread(target=self._close_each, daemon=True)
            self.closer.start()
        elif self.behaviour == "refused":
            self.server.close()

    def _close_each(self) -> None:
        while self.closer is not None:
            with contextlib.suppress(TimeoutError):
                self.server.accept()[0].close()
                self.connections += 1

    def reached(self) -> bool:
        """Whether a silent endpoint has a connection waiting."""
        self.server.settimeout(0)
        with contextlib.suppress(BlockingIOError):
            self.server.accept()[0].close()
            return True
        return False

    def close(self) -> None:
        closer, self.closer = self.closer, None
        if closer is not None:
            closer.join()
        self.server.close()


@pytest.fixture
def dynamodb_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Endpoint]]:
    """dynamodb_endpoint(behaviour) -> Endpoint: the DynamoDB clients made from now on send
    to it."""
    made: list[Endpoint] = []

    def make(behaviour: str) -> Endpoint:
        endpoint = Endpoint(behaviour)
        made.append(endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint.url)
        return endpoint

    yield make
    for endpoint in made:
        endpoint.close()


@PLAIN
def test_a_call_hung_in_a_socket_read_is_503_timeout(seeded, dynamodb_hooks, dynamodb_endpoint):
    """The same, where a hung call really blocks: in urllib3's socket read, which botocore
    turns any Exception raised in into a retryable HTTPClientError. The deadline still ends the
    request with 503 TIMEOUT (not UNAVAILABLE after more attempts, each as long as the read
    timeout) while the function has time left (python-context.html)."""
    endpoint = dynamodb_endpoint("silent")
    context = FakeContext(timeout_s=3)

    reply = GET.send(context)

    assert_unavailable(reply, GET, "TIMEOUT")
    assert context.get_remaining_time_in_millis() > 0
    assert endpoint.reached()


@PLAIN
@pytest.mark.parametrize("behaviour", ["closing", "refused"])
def test_a_connection_error_past_botocores_retries_is_503_unavailable(
    seeded, dynamodb_hooks, dynamodb_endpoint, lambda_context, behaviour
):
    """A connection DynamoDB closes without an answer, or cannot open, is a network fault the
    SDKs retry (Programming.Errors.html): past botocore's retries it is 503 UNAVAILABLE with
    Retry-After, like a 5xx."""
    endpoint = dynamodb_endpoint(behaviour)

    reply = GET.send(lambda_context)

    assert_unavailable(reply, GET, "UNAVAILABLE")
    if behaviour == "closing":
        assert endpoint.connections > 1  # botocore retried


@PLAIN
@pytest.mark.parametrize(("age", "attempts"), [(27.5, 1), (28.5, 0)])
def test_api_gateways_timeout_counts_from_when_it_received_the_request(
    seeded, inject, lambda_context, age, attempts
):
    """API Gateway gives up on an integration after 29 s (limits.html), counted from when it
    received the request (requestContext.requestTimeEpoch), cold start included. A request that
    arrived 27.5 s ago has 0.5 s left whatever the function's own timeout (a generous context
    here): its hung call is cut off then. One that arrived 28.5 s ago has no time left (the
    margin): 503 TIMEOUT without calling AWS at all."""
    hang = inject("dynamodb", "GetItem", Hang())
    # After a thousand tests a full collection of this process's heap takes ~0.4 s: one is made
    # now, so that none falls due inside the half second this test measures.
    gc.collect()
    event = GET.event()
    event["requestContext"]["requestTimeEpoch"] = int((time.time() - age) * 1000)

    reply = reply_of(load_handler(GET.function).lambda_handler(event, lambda_context))

    assert_timeout(reply, GET, hang)
    assert hang.attempts == attempts


@PLAIN
def test_after_a_timeout_the_same_handler_answers_the_next_request(seeded, inject):
    """A warm Lambda environment serves the next invocation with the same loaded module
    (python-context.html: one context per invocation): the timeout's timer and SIGALRM handler
    are gone, and the next request is answered normally."""
    handler = load_handler(GET.function)
    hang = inject("dynamodb", "GetItem", Hang())
    before = signal.getsignal(signal.SIGALRM)

    timed_out = reply_of(handler.lambda_handler(GET.event(), FakeContext(timeout_s=3)))
    assert_timeout(timed_out, GET, hang)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before

    hang.on = False
    reply = reply_of(handler.lambda_handler(GET.event(), FakeContext()))
    assert reply.status == 200, reply.raw
    assert reply.body["file_content"] == "attached"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


NOW = 1_700_000_000.0


def context_with(seconds: float) -> Any:
    return SimpleNamespace(get_remaining_time_in_millis=lambda: int(seconds * 1000))


@pytest.mark.parametrize(
    ("received", "context", "left"),
    [
        (None, None, 28.0),  # no epoch, no context: API Gateway's 29 s less the margin
        (None, context_with(900), 28.0),
        (NOW - 10, context_with(900), 18.0),  # 10 s spent before we started
        (NOW - 29, context_with(900), -1.0),  # API Gateway's timeout is now
        (NOW + 5, context_with(900), 28.0),  # in the future: a clock we cannot place
        (NOW - 30, context_with(900), 28.0),  # too old to be this request's: a synthetic event
        (True, context_with(900), 28.0),  # not a number
        (None, context_with(5), 4.0),  # the function ends before API Gateway would
        (NOW - 1, context_with(5), 4.0),
        (NOW - 20, context_with(15), 8.0),  # API Gateway's end comes first
    ],
    ids=[
        "nothing",
        "no-epoch",
        "epoch",
        "epoch-at-limit",
        "future-epoch",
        "old-epoch",
        "bool-epoch",
        "short-context",
        "short-context-epoch",
        "epoch-before-context",
    ],
)
def test_seconds_left(received, context, left):
    """The deadline is the earlier of the function's end (the context's remaining time,
    python-context.html) and API Gateway's (29 s after requestTimeEpoch, limits.html), less
    MARGIN_S; an epoch our clock cannot place is not used."""
    if isinstance(received, float):
        received = int(received * 1000)
    event = {} if received is None else {"requestContext": {"requestTimeEpoch": received}}

    assert deadline.seconds_left(context, event, now=NOW) == pytest.approx(left)
