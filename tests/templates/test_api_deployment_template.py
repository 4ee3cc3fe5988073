"""The stage's deployment custom resource as the template declares it: what it carries, what its
function may do (the handler itself: tests/functions/test_api_deployment_handler.py)."""

import hashlib
import json

import pytest

from tests.cfn import parameter_reach, references, resources_of_type

CUSTOM = "Custom::ApiDeployment"
# What an API Gateway deployment snapshots (a stage's own settings are not in it).
DEFINITION = (
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Authorizer",
)


def _deployment(template: dict) -> dict:
    [resource] = resources_of_type(template, CUSTOM).values()
    return resource["Properties"]


def _deployer(template: dict) -> tuple[str, dict]:
    token = _deployment(template)["ServiceToken"]
    assert token == {"Fn::GetAtt": [token["Fn::GetAtt"][0], "Arn"]}
    rid = token["Fn::GetAtt"][0]
    return rid, template["Resources"][rid]


def test_it_carries_every_parameter_that_reaches_the_apis_definition(template):
    """CloudFormation updates a REST API's methods for a parameter edit but never deploys them
    to a stage: only a new Deployment resource does (no AutoDeploy for REST stages:
    aws-cloudformation/cloudformation-coverage-roadmap#623; aws/serverless-application-model#479).
    The custom resource deploys again when its properties change: a parameter that
    shapes a method, resource, gateway response, model, validator or authorizer (by Ref, Sub,
    an Fn::If's condition or the resource's own Condition) and is not carried here would be
    applied to the API but never served. Tags are the resources', not the deployment's."""
    shaping = {
        parameter
        for parameter, reached in parameter_reach(template).items()
        for rid, prop in reached
        if template["Resources"][rid]["Type"] in DEFINITION and prop != "Tags"
    }
    carried = _deployment(template)["Parameters"]
    assert set(carried) == shaping
    assert {"RoutePrefix", "AuthType", "CorsAllowOrigin"} <= shaping
    for name, value in carried.items():
        if template["Parameters"][name]["Type"] == "CommaDelimitedList":
            assert value == {"Fn::Join": [",", {"Ref": name}]}, name
        else:
            assert value == {"Ref": name}, name


def test_its_hash_is_the_apis_definition_as_the_template_has_it(template):
    """A template change to any part of the definition deploys again; nothing else does (the
    stack's tags are added to every resource after the API is built, and no deployment holds
    them)."""
    parts = {
        rid: {**r, "Properties": {k: v for k, v in r["Properties"].items() if k != "Tags"}}
        for rid, r in template["Resources"].items()
        if r["Type"] in DEFINITION
    }
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert _deployment(template)["ApiHash"] == f"sha256:{digest}"
    [api] = resources_of_type(template, "AWS::ApiGateway::RestApi")
    assert _deployment(template)["RestApiId"] == {"Ref": api}


def _statements(template: dict) -> list[dict]:
    _, fn = _deployer(template)
    [role_id] = references(fn["Properties"]["Role"])
    [policy] = template["Resources"][role_id]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_its_function_may_create_deployments_of_this_api_only(template):
    by_sid = {s["Sid"]: s for s in _statements(template)}
    assert set(by_sid) == {"CreateDeployment", "OwnLogGroup", "XRayWrite"}
    create = by_sid["CreateDeployment"]
    assert create["Action"] == ["apigateway:POST"]
    [arn] = create["Resource"]
    assert arn == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/deployments"
    }
    _, fn = _deployer(template)
    [group] = references(fn["Properties"]["LoggingConfig"]["LogGroup"])
    assert by_sid["OwnLogGroup"]["Resource"] == [{"Fn::GetAtt": [group, "Arn"]}]


@pytest.mark.parametrize("key", ["Layers", "Environment", "VpcConfig", "KmsKeyArn"])
def test_its_function_needs_nothing_of_the_items_functions(template, key):
    """Standard library and the runtime's boto3 only: a broken layer or a VPC without an API
    Gateway route cannot keep a stack from deploying its API."""
    _, fn = _deployer(template)
    assert key not in fn["Properties"]


def test_its_function_answers_before_its_timeout_with_room_to_retry(template):
    """CloudFormation waits ServiceTimeout seconds for an answer, an hour by default
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html,
    aws-resource-cloudformation-customresource.html: 1 to 3600). The handler answers within its
    Timeout (tests/functions/test_api_deployment_handler.py), CreateDeployment is throttled per
    account so the Timeout leaves room for retries, and should the function never answer, the stack
    fails after ServiceTimeout: longer than the Timeout, far shorter than an hour."""
    _, fn = _deployer(template)
    timeout = fn["Properties"]["Timeout"]
    assert 30 <= timeout <= 120
    assert 2 * timeout <= _deployment(template)["ServiceTimeout"] <= 600
    [group] = references(fn["Properties"]["LoggingConfig"]["LogGroup"])
    logs = template["Resources"][group]
    assert logs["DeletionPolicy"] in ("Retain", "RetainExceptOnCreate")
    assert "KmsKeyId" in logs["Properties"] and "RetentionInDays" in logs["Properties"]
