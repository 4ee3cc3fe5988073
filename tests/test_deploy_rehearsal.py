"""`make deploy STAGE=test` rehearsed against moto_server on loopback: the real build, the real
deploy script and the real `aws cloudformation deploy`, with dummy credentials."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from templates.catalog import FUNCTIONS, ROUTES
from templates.naming import logical_id
from templates.parameters import PYTHON_RUNTIMES
from tests.cfn import ROOT

BIN = Path(sys.executable).parent
STACK = "items-api-test"
REGION = "us-west-2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "localapi.moto_compat", "-H", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail(f"moto_server did not start: {log.read_text()}")
    # moto resolves an S3 TemplateURL path-style only when the host is `localhost`.
    yield {"endpoint": f"http://localhost:{port}", "log": log}
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def env(moto_server) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    return {
        **base,
        "AWS_ENDPOINT_URL": moto_server["endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def make_deploy(env: dict, stage: str = "test") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "deploy", f"STAGE={stage}", f"REGION={REGION}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _client(env: dict, service: str):
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def first_deploy(env) -> subprocess.CompletedProcess:
    result = make_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_stack_is_created(env, first_deploy):
    stack = _client(env, "cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags == {"Project": "items-api", "Environment": "test", "Owner": "unassigned",
                    "CostCenter": "unassigned", "ManagedBy": "CloudFormation"}  # fmt: skip
    assert f"artifacts: {len(FUNCTIONS) + 1} uploaded" in first_deploy.stdout


def _physical(env, resource_type: str) -> list[str]:
    resources = _client(env, "cloudformation").describe_stack_resources(StackName=STACK)
    return [
        r.get("PhysicalResourceId")  # moto has none for a LayerVersion
        for r in resources["StackResources"]
        if r.get("ResourceType") == resource_type  # moto omits it for types it skips
    ]


def _physical_id(env, logical: str) -> str:
    resources = _client(env, "cloudformation").describe_stack_resources(StackName=STACK)
    [physical] = [
        r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("LogicalResourceId") == logical  # moto omits it for types it skips
    ]
    return physical


ITEMS_TABLE = logical_id("items", "table")
IDEMPOTENCY_TABLE = logical_id("idempotency", "table")


def test_the_table_has_its_key_and_stream(env, first_deploy):
    name = _physical_id(env, ITEMS_TABLE)
    table = _client(env, "dynamodb").describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 10  # params/test.json


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_function_exists_with_role_env_and_layer(env, first_deploy, spec):
    name = f"{STACK}-{spec.name.replace('_', '-')}"
    config = _client(env, "lambda").get_function(FunctionName=name)["Configuration"]
    assert config["Role"].split("/")[-1] in _physical(env, "AWS::IAM::Role")
    variables = config["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == _physical_id(env, ITEMS_TABLE)
    assert variables["IDEMPOTENCY_TABLE"] == _physical_id(env, IDEMPOTENCY_TABLE)
    assert config["Environment"]["Variables"]["STAGE"] == "test"
    assert config["MemorySize"] == 256 and config["Timeout"] == 15
    # moto's CloudFormation drops a function's Layers (and names the layer itself), so check
    # that the stack's layer exists in Lambda and that the deployed template attaches it.
    [layer] = _client(env, "lambda").list_layers()["Layers"]
    assert layer["LatestMatchingVersion"]["CompatibleRuntimes"] == list(PYTHON_RUNTIMES)
    deployed = _client(env, "cloudformation").get_template(StackName=STACK)["TemplateBody"]
    function = deployed["Resources"][logical_id(spec.name, "function")]["Properties"]
    [layer_id] = _logical(env, "AWS::Lambda::LayerVersion")
    assert function["Layers"] == [{"Ref": layer_id}]


def _logical(env, resource_type: str) -> list[str]:
    resources = _client(env, "cloudformation").describe_stack_resources(StackName=STACK)
    return [
        r["LogicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == resource_type
    ]


def test_every_route_exists(env, first_deploy):
    [api_id] = _physical(env, "AWS::ApiGateway::RestApi")
    items = _client(env, "apigateway").get_resources(restApiId=api_id, embed=["methods"])["items"]
    routes = {(m, r["path"]) for r in items for m in r.get("resourceMethods", {})}
    preflights = {("OPTIONS", r["path"]) for r in items}
    assert routes == {(s.method, s.route) for s in ROUTES} | preflights


def test_a_second_deploy_with_nothing_changed_uploads_nothing(env, first_deploy):
    again = make_deploy(env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "artifacts: 0 uploaded (0 bytes)" in again.stdout
    assert "no changes" in again.stdout
    stack = _client(env, "cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_a_bad_stage_fails_before_any_aws_call(env, moto_server, first_deploy):
    requests_before = moto_server["log"].read_text().count('HTTP/1.1"')
    result = make_deploy(env, stage="staging")
    assert result.returncode != 0
    assert "'staging' is not a stage" in result.stderr
    assert moto_server["log"].read_text().count('HTTP/1.1"') == requests_before
