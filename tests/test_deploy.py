"""deploy.py's decisions that the moto rehearsal cannot reach (moto cannot update our stack)."""

import boto3
import pytest
from moto import mock_aws

import deploy
from tests.cfn import ROOT, parameter_reach, stage_values
from tests.conftest import REGION

API_SHAPES = ("AWS::ApiGateway::Method", "AWS::ApiGateway::Resource",
              "AWS::ApiGateway::GatewayResponse")  # fmt: skip


def test_api_shaping_parameters_are_exactly_those_the_api_resources_reference(template):
    """CloudFormation redeploys a stage only for a new Deployment resource, whose logical ID
    hashes the template text: every parameter that reaches a Method, Resource or
    GatewayResponse (by Ref, Sub or the condition of an Fn::If) must make `make deploy`
    redeploy the stage itself."""
    shaping = {
        parameter
        for parameter, reached in parameter_reach(template).items()
        for rid, _ in reached
        if template["Resources"][rid]["Type"] in API_SHAPES
    }
    assert shaping == set(deploy.API_SHAPING)


def _plan(template: dict) -> deploy.Plan:
    return deploy.Plan("test", "items-api-test", REGION, ROOT / "dist", template,
                       stage_values(template, "test"), {})  # fmt: skip


def test_a_changed_api_shaping_parameter_is_found(template):
    p = _plan(template)
    live = {"Parameters": [{"ParameterKey": k, "ParameterValue": v}
                           for k, v in deploy.full_parameters(p, p.values).items()]}  # fmt: skip
    assert deploy.api_shaping_changes(p, live, p.values) == []
    assert deploy.api_shaping_changes(p, None, p.values) == []  # a new stack deploys itself
    changed = {**p.values, "RoutePrefix": "data", "CorsAllowOrigin": "https://example.com"}
    assert deploy.api_shaping_changes(p, live, changed) == ["CorsAllowOrigin", "RoutePrefix"]
    assert deploy.api_shaping_changes(p, live, {**p.values, "MemorySize": "1024"}) == []


def test_redeploy_points_the_stage_at_a_new_deployment(aws_env):
    with mock_aws():
        apigateway = boto3.client("apigateway", region_name=REGION)
        api = apigateway.create_rest_api(name="items-api-test")["id"]
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET",
                              authorizationType="NONE")  # fmt: skip
        apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        first = apigateway.create_deployment(restApiId=api, stageName="test")["id"]
        stack = _StackResource(api)
        new = deploy.redeploy_stage(apigateway, stack, "items-api-test", "test", ["RoutePrefix"])
        assert new != first
        assert apigateway.get_stage(restApiId=api, stageName="test")["deploymentId"] == new
        assert (
            "RoutePrefix"
            in apigateway.get_deployment(restApiId=api, deploymentId=new)["description"]
        )


class _StackResource:
    """describe_stack_resource answering the API's physical ID, as CloudFormation would."""

    def __init__(self, api_id: str) -> None:
        self.api_id = api_id

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict:
        assert LogicalResourceId == "Api"
        return {"StackResourceDetail": {"PhysicalResourceId": self.api_id}}


@pytest.mark.parametrize("region", ["us-west-2", "us-east-1"])
def test_the_artifact_bucket_is_created_locked_down_in_any_region(aws_env, region):
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        assert deploy.ensure_bucket(s3, "artifacts-bucket", region) is True
        assert deploy.ensure_bucket(s3, "artifacts-bucket", region) is False  # exists: kept
        assert s3.get_bucket_versioning(Bucket="artifacts-bucket")["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket="artifacts-bucket")
        assert all(block["PublicAccessBlockConfiguration"].values())
        rules = s3.get_bucket_encryption(Bucket="artifacts-bucket")[
            "ServerSideEncryptionConfiguration"
        ]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        location = s3.get_bucket_location(Bucket="artifacts-bucket")["LocationConstraint"]
        assert (location or "us-east-1") == region
