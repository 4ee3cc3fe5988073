"""Shared fixtures: the built template, AWS mocked by moto, the handlers as Lambda loads them."""

import base64
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from templates import build_template
from tests import cfn
from tests import moto_server as moto_helpers
from tools.local import moto_compat

FUNCTIONS_DIR = cfn.ROOT / "functions"
sys.path.insert(0, str(FUNCTIONS_DIR / "shared"))  # items_common, as the layer provides it
REGION = "us-west-2"


@pytest.fixture(scope="session")
def template() -> dict:
    return build_template().to_dict()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real account."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "STAGE": "test",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "items-api-test",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)


@dataclass
class Stack:
    """The template's stateful resources as moto created them, and the parameters used."""

    table: Any  # boto3 dynamodb Table
    bucket: Any  # boto3 s3 Bucket
    parameters: dict[str, str]


STATE_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")
SET_BY_AWS_ENV = ("STAGE", "LOG_LEVEL", "POWERTOOLS_SERVICE_NAME")


def function_environment(template: dict, values: dict[str, str], physical: dict) -> dict:
    """The environment the template gives the functions, resolved for these parameter values
    and these physical resources (the functions share it, bar their service name)."""
    fn = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    resolver = cfn.Resolver(template, values, lambda name, _: physical[name])
    env = resolver.resolve(fn["Properties"]["Environment"]["Variables"])
    return {k: v for k, v in env.items() if isinstance(v, str) and k not in SET_BY_AWS_ENV}


def _env_ref(template: dict, variable: str) -> str:
    """The logical ID of the resource a function environment variable names (Ref)."""
    fn = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    return fn["Properties"]["Environment"]["Variables"][variable]["Ref"]


@pytest.fixture
def make_stack(aws_env: None, template: dict, monkeypatch: pytest.MonkeyPatch):
    """make_stack(**parameter_overrides) -> Stack: the template's own table and bucket, created
    by moto's CloudFormation with params/test.json plus the overrides; sets the environment the
    template gives the functions (TABLE_NAME, BUCKET_NAME, PARTITION_KEY, SORT_KEY, CORS_*),
    resolved from the template itself."""
    moto_compat.apply()
    with mock_aws():
        client = boto3.client("cloudformation", region_name=REGION)
        ids = [i for t in STATE_TYPES for i in cfn.resources_of_type(template, t)]
        part = cfn.subset(template, ids)
        made = []

        def make(**overrides: str) -> Stack:
            values = {**cfn.stage_values(template, "test"), **overrides}
            name = f"handler-tests-{len(made)}"
            client.create_stack(
                StackName=name,
                TemplateBody=json.dumps(part),
                Parameters=cfn.stack_parameters(part, values),
            )
            resources = client.describe_stack_resources(StackName=name)["StackResources"]
            physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
            for key, value in function_environment(template, values, physical).items():
                monkeypatch.setenv(key, value)
            table_id = _env_ref(template, "TABLE_NAME")
            [bucket_id] = cfn.resources_of_type(template, "AWS::S3::Bucket")
            stack = Stack(
                table=boto3.resource("dynamodb", region_name=REGION).Table(physical[table_id]),
                bucket=boto3.resource("s3", region_name=REGION).Bucket(physical[bucket_id]),
                parameters=values,
            )
            made.append(stack)
            return stack

        yield make


@pytest.fixture(params=["plain", "history"])
def stack(make_stack, request):
    """Each test once per mode (a module may define its own `stack`)."""
    return make_stack(**({"SortKeyName": "timestamp"} if request.param == "history" else {}))


@pytest.fixture
def items_table(make_stack):
    """Plain mode: partition key only."""
    return make_stack().table


@pytest.fixture
def history_table(make_stack):
    """History mode: a Number sort key `timestamp` (seed 003)."""
    return make_stack(SortKeyName="timestamp").table


def load_handler(name: str) -> ModuleType:
    """functions/<name>/app.py, freshly imported with a fresh items_common (as a cold start)."""
    for module in [m for m in sys.modules if m == "items_common" or m.startswith("items_common.")]:
        del sys.modules[module]
    path = FUNCTIONS_DIR / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeContext:
    function_name: str = "items-api-test-fn"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:123456789012:function:items-api-test-fn"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    # The function's Timeout, counted from the context's creation: Lambda's maximum by default,
    # as fixtures share one context across many requests; a test of the deadline sets its own.
    timeout_s: float = 900.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


def api_event(
    method: str,
    path: str,
    *,
    path_parameters: dict | None = None,
    query: dict | None = None,
    body: str | bytes | None = None,
    headers: dict | None = None,
    is_base64: bool = False,
) -> dict:
    """An API Gateway REST (v1) Lambda proxy event, as the deployed API sends it."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if isinstance(body, bytes) or is_base64:
        raw = body if isinstance(body, bytes) else (body or "").encode()
        body, is_base64 = base64.b64encode(raw).decode(), True
    resource = path
    for key, value in (path_parameters or {}).items():
        resource = resource.replace(str(value), "{" + key + "}")
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/test{path}",
            "stage": "test",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestTimeEpoch": 1700000000000,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


@pytest.fixture
def dynamodb_hooks(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Callable], None]:
    """Register a botocore hook on the session the handlers will use (a fresh default session,
    restored after the test). The items_table fixture's own client is not affected, so a hook
    can play a concurrent writer through it."""
    session = boto3.Session()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)

    def register(event_name: str, handler: Callable) -> None:
        session.events.register(event_name, handler)

    return register


@pytest.fixture
def fresh_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service name of its own, so the handler's Logger writes to this test's captured stdout."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"items-api-test-{uuid.uuid4().hex}")


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    """moto_server on a free loopback port, one per test module: {"endpoint", "log"}."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    server, endpoint = moto_helpers.start(log)
    yield {"endpoint": endpoint, "log": log}
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def env(moto_server) -> dict:
    """The environment of a make run against moto_server, whose account has API Gateway's
    CloudWatch role set, as an operator sets it once (else `make preflight` refuses)."""
    environment = moto_helpers.environment(moto_server["endpoint"])
    moto_helpers.give_account_cloudwatch_role(environment)
    return environment
