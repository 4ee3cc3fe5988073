"""functions/api_deployment: the Custom::ApiDeployment handler, against moto's API Gateway and a
loopback HTTP server standing in for CloudFormation's response URL. Faults are injected at
botocore's HTTP layer (before-send hooks) or by real sockets, never by patching the handler."""

import importlib.util
import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.client
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

APP = Path(__file__).resolve().parents[2] / "functions" / "api_deployment" / "app.py"
LOGICAL_ID = "ApiDeployment"
HASH = "ab12cd34ef56" + "0" * 52
LOG_STREAM = "2025/01/01/[$LATEST]0123456789abcdef"
MARGIN_S = 1.0  # the tests' TIMEOUT_MARGIN_S: short, so deadlines come in a second or two


@dataclass
class FakeContext:
    """Lambda's context, its remaining time running down with the clock."""

    remaining_s: float = 30.0
    log_stream_name: str = LOG_STREAM
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Received:
    method: str
    headers: dict[str, str]
    body: dict


class CloudFormation:
    """A response URL: records every request; answers with the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(Received(self.command, dict(self.headers), json.loads(raw)))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT  # recorded too, so a wrong method fails an assertion, not a wait

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stack/request?X-Amz-Signature=x"
        serve = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        serve.start()

    @property
    def answer(self) -> dict:
        assert len(self.received) == 1, self.received
        return self.received[0].body


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The handler as Lambda loads it, with short margins so tests take seconds."""
    spec = importlib.util.spec_from_file_location(f"api_deployment_app_{uuid.uuid4().hex}", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "TIMEOUT_MARGIN_S", MARGIN_S)
    monkeypatch.setattr(module, "ANSWER_BACKOFF_S", 0.05)
    return module


def default_session(monkeypatch: pytest.MonkeyPatch) -> boto3.session.Session:
    """A fresh default session: the handler's client is made from it and inherits its hooks."""
    fresh = boto3.session.Session()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", fresh)
    return fresh


@pytest.fixture
def session(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> boto3.session.Session:
    """No moto: for calls that must never leave the hooks or the loopback."""
    return default_session(monkeypatch)


@pytest.fixture
def moto(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    """moto's API Gateway. Its start resets boto3's default session, so ours comes after."""
    with mock_aws():
        yield default_session(monkeypatch)


@pytest.fixture
def cfn() -> Iterator[CloudFormation]:
    server = CloudFormation()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def apigw(moto: boto3.session.Session) -> Any:
    return moto.client("apigateway")


@pytest.fixture
def api_id(apigw: Any) -> str:
    """A REST API with one method and a MOCK integration: enough for a deployment."""
    api = apigw.create_rest_api(name="items")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    return api


def event(request_type: str, url: str, api: str, **extra: Any) -> dict:
    """A CloudFormation request; `props` overrides properties, other keywords event keys."""
    props = {
        "ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:deployer",
        "RestApiId": api,
        "ApiHash": HASH,
        "Parameters": {"RoutePrefix": "items", "AuthType": "NONE"},
    } | extra.pop("props", {})
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/items/1",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::ApiDeployment",
        "ResourceProperties": props,
        **extra,
    }


def throttle(first: int | None, calls: list[float]) -> Callable[..., AWSResponse | None]:
    """A before-send hook: 429 TooManyRequestsException for the first `first` attempts (all
    if None), then lets the request through to moto."""

    class Raw:
        def stream(self) -> Iterator[bytes]:
            yield b'{"message": "Too Many Requests"}'

    def hook(request: Any, **kwargs: Any) -> AWSResponse | None:
        calls.append(time.monotonic())
        if first is None or len(calls) <= first:
            headers = {"x-amzn-ErrorType": "TooManyRequestsException"}
            return AWSResponse(request.url, 429, headers, Raw())
        return None

    return hook


def deployments(apigw: Any, api: str) -> list[dict]:
    return apigw.get_deployments(restApiId=api)["items"]


def test_create_answers_success_with_a_new_deployment(app, cfn, apigw, api_id) -> None:
    assert app.lambda_handler(event("Create", cfn.url, api_id), FakeContext()) is None

    received = cfn.received[0]
    assert received.method == "PUT"
    assert received.headers["Content-Type"] == ""
    assert int(received.headers["Content-Length"]) == len(json.dumps(received.body))
    answer = cfn.answer
    assert set(answer) == {
        "Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId",
        "Data", "NoEcho",
    }  # fmt: skip
    assert answer["Status"] == "SUCCESS", answer
    deployment = apigw.get_deployment(restApiId=api_id, deploymentId=answer["PhysicalResourceId"])
    assert answer["Data"] == {"DeploymentId": deployment["id"]}
    assert deployment["description"] == f"{LOGICAL_ID}: api {HASH[:12]}; created"
    assert apigw.get_stages(restApiId=api_id)["item"] == []
    assert answer["LogicalResourceId"] == LOGICAL_ID and answer["NoEcho"] is False


@pytest.mark.parametrize(
    ("props", "changed"),
    [
        ({"Parameters": {"RoutePrefix": "v2", "AuthType": "NONE"}}, "RoutePrefix"),
        ({"Parameters": {"RoutePrefix": "v2", "AuthType": "IAM"}}, "AuthType, RoutePrefix"),
        ({"Parameters": {"RoutePrefix": "items"}}, "AuthType"),
        ({"ApiHash": "f" * 64}, "definition"),
        (
            {"ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:other"},
            "nothing tracked",
        ),
    ],
)
def test_update_makes_another_deployment_naming_the_change(
    app, cfn, apigw, api_id, props, changed
) -> None:
    app.lambda_handler(event("Create", cfn.url, api_id), FakeContext())
    first = cfn.answer["PhysicalResourceId"]
    cfn.received.clear()
    old = event("Create", cfn.url, api_id)["ResourceProperties"]
    update = event("Update", cfn.url, api_id, props=props)
    update |= {"PhysicalResourceId": first, "OldResourceProperties": old}

    app.lambda_handler(update, FakeContext())

    answer = cfn.answer
    assert answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] != first
    assert answer["Data"] == {"DeploymentId": answer["PhysicalResourceId"]}
    deployment = apigw.get_deployment(restApiId=api_id, deploymentId=answer["PhysicalResourceId"])
    api_hash = update["ResourceProperties"]["ApiHash"]
    assert deployment["description"] == f"{LOGICAL_ID}: api {api_hash[:12]}; changed: {changed}"


def test_description_is_bounded(app, cfn, apigw, api_id) -> None:
    params = {f"Parameter{n:03}": "new" for n in range(60)}
    update = event("Update", cfn.url, api_id, props={"Parameters": params})
    update |= {"PhysicalResourceId": "old", "OldResourceProperties": {"ApiHash": HASH}}
    app.lambda_handler(update, FakeContext())
    deployment = apigw.get_deployment(
        restApiId=api_id, deploymentId=cfn.answer["Data"]["DeploymentId"]
    )
    assert len(deployment["description"]) == 200 and deployment["description"].endswith("...")


def test_delete_answers_success_without_calling_aws(app, cfn, moto, apigw, api_id) -> None:
    sent: list[str] = []
    moto.events.register("before-send", lambda request, **kw: sent.append(request.url))
    app.lambda_handler(event("Create", cfn.url, api_id), FakeContext())
    assert len(sent) == 1  # the hook sees the handler's calls
    physical_id = cfn.answer["PhysicalResourceId"]
    cfn.received.clear()
    sent.clear()

    app.lambda_handler(
        event("Delete", cfn.url, api_id, PhysicalResourceId=physical_id), FakeContext()
    )

    assert sent == []
    assert cfn.answer["Status"] == "SUCCESS"
    assert cfn.answer["PhysicalResourceId"] == physical_id
    assert [d["id"] for d in deployments(apigw, api_id)] == [physical_id]


@pytest.mark.parametrize(
    ("request_type", "extra", "physical_id"),
    [
        ("Create", {}, f"{LOGICAL_ID}-not-created"),
        ("Update", {"PhysicalResourceId": "dep123", "OldResourceProperties": {}}, "dep123"),
    ],
)
def test_a_failing_call_answers_failed(app, cfn, apigw, request_type, extra, physical_id) -> None:
    app.lambda_handler(event(request_type, cfn.url, "nosuchapi", **extra), FakeContext())

    answer = cfn.answer
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == physical_id
    assert answer["Reason"].startswith("NotFoundException: ")
    assert answer["Reason"].endswith(f"(see CloudWatch log stream {LOG_STREAM})")
    assert len(answer["Reason"]) <= 1000
    assert answer["Data"] == {}


def test_the_rollback_delete_of_a_failed_create_succeeds(app, cfn, moto) -> None:
    app.lambda_handler(event("Create", cfn.url, "nosuchapi"), FakeContext())
    placeholder = cfn.answer["PhysicalResourceId"]
    cfn.received.clear()
    delete = event("Delete", cfn.url, "nosuchapi", PhysicalResourceId=placeholder)
    app.lambda_handler(delete, FakeContext())
    assert cfn.answer["Status"] == "SUCCESS"
    assert cfn.answer["PhysicalResourceId"] == placeholder == f"{LOGICAL_ID}-not-created"


@pytest.mark.parametrize("throttled", [1, 2])
def test_throttling_is_retried(app, cfn, moto, apigw, api_id, throttled) -> None:
    calls: list[float] = []
    moto.events.register_first(
        "before-send.api-gateway.CreateDeployment", throttle(throttled, calls)
    )

    app.lambda_handler(event("Create", cfn.url, api_id), FakeContext())

    assert cfn.answer["Status"] == "SUCCESS", cfn.answer
    assert len(calls) == throttled + 1
    apigw.get_deployment(restApiId=api_id, deploymentId=cfn.answer["PhysicalResourceId"])


def test_throttling_past_the_attempts_answers_failed(app, cfn, moto, monkeypatch) -> None:
    monkeypatch.setattr(app, "MAX_ATTEMPTS", 3)
    calls: list[float] = []
    moto.events.register_first("before-send.api-gateway.CreateDeployment", throttle(None, calls))
    context = FakeContext(remaining_s=10)

    app.lambda_handler(event("Create", cfn.url, "anyapi"), context)

    assert time.monotonic() < context.deadline
    assert len(calls) == 3
    assert cfn.answer["Status"] == "FAILED"
    assert cfn.answer["Reason"].startswith("TooManyRequestsException: ")


Hit = Callable[[], bool]  # whether the hang was reached


def _throttled(session: boto3.session.Session, listener: socket.socket) -> Hit:
    calls: list[float] = []
    session.events.register_first("before-send.api-gateway", throttle(None, calls))
    return lambda: len(calls) > 1


def _sleeping_hook(session: boto3.session.Session, listener: socket.socket) -> Hit:
    calls: list[float] = []

    def hook(**kwargs: Any) -> None:
        calls.append(time.monotonic())
        time.sleep(10)

    session.events.register_first("before-send.api-gateway", hook)
    return lambda: len(calls) == 1


def _silent_endpoint(session: boto3.session.Session, listener: socket.socket) -> Hit:
    """The endpoint connects (the kernel's backlog accepts), then never sends a byte."""

    def hit() -> bool:
        listener.settimeout(0.1)
        listener.accept()[0].close()
        return True

    return hit


HANGS = {
    "throttled until the deadline": _throttled,
    "hook sleeps": _sleeping_hook,
    "endpoint never answers": _silent_endpoint,
}


@pytest.mark.parametrize("hang", HANGS.values(), ids=HANGS.keys())
def test_a_hung_call_answers_failed_before_the_deadline(
    app, cfn, session, monkeypatch, hang
) -> None:
    # Only the watchdog can end it in time: a read timeout past the deadline, and attempts
    # that outlast it. Bounded still, so a broken watchdog fails the test instead of hanging.
    monkeypatch.setattr(app, "READ_TIMEOUT_S", 3.0)
    monkeypatch.setattr(app, "MAX_ATTEMPTS", 8)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        # whatever gets past the hooks goes to the silent loopback endpoint, never to AWS
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", endpoint)
        hit = hang(session, listener)
        context = FakeContext(remaining_s=MARGIN_S + 1.5)
        start = time.monotonic()
        app.lambda_handler(event("Create", cfn.url, "anyapi"), context)
        returned = time.monotonic()
        assert hit()

    assert returned < context.deadline, f"returned {returned - context.deadline:.2f} s late"
    assert returned - start >= 1.4  # the watchdog, not something else, ended it
    assert cfn.answer["Status"] == "FAILED"
    assert cfn.answer["Reason"].startswith("DeadlineExceeded: not done within 1.5 s")
    assert cfn.answer["PhysicalResourceId"] == f"{LOGICAL_ID}-not-created"


@pytest.mark.parametrize("api", ["ok", "nosuchapi"])
def test_the_watchdog_is_disarmed_after_the_request(app, cfn, apigw, api_id, api) -> None:
    before = signal.getsignal(signal.SIGALRM)
    context = FakeContext(remaining_s=MARGIN_S + 3)
    app.lambda_handler(event("Create", cfn.url, api_id if api == "ok" else api), context)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


def test_no_time_left_answers_failed_at_once(app, cfn, session) -> None:
    context = FakeContext(remaining_s=MARGIN_S - 0.5)
    app.lambda_handler(event("Create", cfn.url, "anyapi"), context)
    assert time.monotonic() < context.deadline
    assert cfn.answer["Status"] == "FAILED"
    assert cfn.answer["Reason"].startswith("DeadlineExceeded: no time left")


def test_the_answer_is_retried_on_5xx(app, cfn, apigw, api_id) -> None:
    cfn.statuses = [500, 503]
    app.lambda_handler(event("Create", cfn.url, api_id), FakeContext())
    assert [r.body["Status"] for r in cfn.received] == ["SUCCESS"] * 3
    assert len({r.body["PhysicalResourceId"] for r in cfn.received}) == 1


def test_the_answer_is_not_retried_on_4xx(app, cfn, apigw, api_id) -> None:
    cfn.statuses = [403]
    app.lambda_handler(event("Create", cfn.url, api_id), FakeContext())
    assert len(cfn.received) == 1


def test_an_unreachable_response_url_is_logged_not_raised(app, session, caplog) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    delete = event("Delete", url, "anyapi", PhysicalResourceId="dep123")
    assert app.lambda_handler(delete, FakeContext(remaining_s=5)) is None
    assert "could not answer CloudFormation" in caplog.text


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda e: e["ResourceProperties"].pop("RestApiId"), "ResourceProperties.RestApiId"),
        (lambda e: e["ResourceProperties"].update(RestApiId=""), "ResourceProperties.RestApiId"),
        (lambda e: e["ResourceProperties"].pop("ApiHash"), "ResourceProperties.ApiHash"),
        (lambda e: e.pop("ResourceProperties"), "ResourceProperties.RestApiId"),
        (lambda e: e.update(RequestType="Upsert"), "RequestType 'Upsert'"),
    ],
)
def test_a_malformed_event_answers_failed_naming_it(app, cfn, moto, change, named) -> None:
    malformed = event("Create", cfn.url, "anyapi")
    change(malformed)
    app.lambda_handler(malformed, FakeContext())
    assert cfn.answer["Status"] == "FAILED"
    assert named in cfn.answer["Reason"]
    assert cfn.answer["PhysicalResourceId"] == f"{LOGICAL_ID}-not-created"


def test_import_holds_no_client_or_session(app) -> None:
    """Nothing credential-bound at import: no client or session among its globals."""
    bound = (boto3.session.Session, botocore.client.BaseClient, botocore.session.Session)
    assert not [name for name, value in vars(app).items() if isinstance(value, bound)]
