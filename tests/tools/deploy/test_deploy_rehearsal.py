"""`make deploy STAGE=test` rehearsed against moto_server on loopback: the real build, the real
deploy script and the real `aws cloudformation deploy`, with dummy credentials."""

import subprocess
import sys
from pathlib import Path

import pytest

from templates.catalog import ARTIFACTS, FUNCTIONS, ROUTES
from templates.functions import PYTHON_RUNTIMES
from templates.naming import logical_id
from tests import moto_server

pytestmark = pytest.mark.slow  # make deploy against moto_server

BIN = Path(sys.executable).parent
STACK = "items-api-test"
REGION = "us-west-2"


def make_deploy(env: dict, stage: str = "test") -> subprocess.CompletedProcess:
    return moto_server.make(env, "deploy", stage)


def _client(env: dict, service: str):
    return moto_server.client(env, service)


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
    assert f"artifacts: {len(ARTIFACTS)} uploaded" in first_deploy.stdout


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
    # (The stack's other layer version, the functions' settings record, is attached to none
    # and declares no runtime.)
    [layer] = [
        layer
        for layer in _client(env, "lambda").list_layers()["Layers"]
        if layer["LatestMatchingVersion"].get("CompatibleRuntimes")
    ]
    assert layer["LatestMatchingVersion"]["CompatibleRuntimes"] == list(PYTHON_RUNTIMES)
    deployed = _client(env, "cloudformation").get_template(StackName=STACK)["TemplateBody"]
    function = deployed["Resources"][logical_id(spec.name, "function")]["Properties"]
    assert function["Layers"] == [{"Ref": logical_id("shared", "layer")}]
    assert logical_id("shared", "layer") in _logical(env, "AWS::Lambda::LayerVersion")


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
    assert "no changes (same template, same parameters, same artifacts)" in again.stdout
    assert "no change set, nothing uploaded" in again.stdout
    assert "uploaded " not in again.stdout.replace("nothing uploaded", "")
    assert "plan for" not in again.stdout  # no change set was made
    stack = _client(env, "cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_a_bad_stage_fails_before_any_aws_call(env, moto_server, first_deploy):
    requests_before = moto_server["log"].read_text().count('HTTP/1.1"')
    result = make_deploy(env, stage="staging")
    assert result.returncode != 0
    assert "'staging' is not a stage" in result.stderr
    assert moto_server["log"].read_text().count('HTTP/1.1"') == requests_before
