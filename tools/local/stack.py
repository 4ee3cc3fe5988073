"""The stage's stack, created in moto from dist/ exactly as `make deploy` would create it in AWS.

The same offline checks (deploy.prepare: stage name, params file, built artifacts), the same
artifact bucket and uploads (deploy.ensure_bucket, deploy.upload_missing), then CloudFormation
CreateStack with dist/template.json and the built parameter values: so the table, bucket, queue
and functions are the template's own, with its key schema. moto creates the stack synchronously.

From the stack, what the local API needs: each resource's physical ID, and each function's
environment as Lambda holds it (the template's Environment, resolved by CloudFormation: table
and bucket names, stage, CORS, ...). The functions themselves run in-process (tools.local.app).

Also for moto, to the tests and the benchmarks: a part of the template created as a stack of its
own (`state_part`, `create_part`: the tables and bucket the handlers run against in-process),
and the API Gateway CloudWatch role a new account needs before `make deploy` (moto_server's).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from templates.parameters import FROM_STAGE_FILE, supplier
from tools.deploy import cli as deploy
from tools.deploy import preflight, stage_params
from tools.intrinsics import named

ACCOUNT_BUCKET = "items-api-local-artifacts"  # the local artifact bucket (moto's S3)
STATE_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")  # the data the handlers keep
CLOUDWATCH_ROLE = "apigateway-cloudwatch-logs"  # the account's API Gateway logging role


@dataclass(frozen=True)
class LocalStack:
    """A created stack: its name, the parameter values it was given, the physical ID of each
    resource (by logical ID), and each function's environment (by logical ID)."""

    name: str
    region: str
    parameters: dict[str, str]
    physical: dict[str, str]
    environments: dict[str, dict[str, str]]
    template: dict[str, Any]


def checked_overrides(template: dict[str, Any], file_values: Mapping[str, str],
                      overrides: Mapping[str, str]) -> dict[str, str]:  # fmt: skip
    """`make local LOCAL_PARAMS=...` values over the stage file's, checked as a stage file is
    (a parameter a stage file may set, its constraints, the template's Rules with the file's
    values); all problems at once, as stage_params.ParamsError."""
    specs = template["Parameters"]
    problems = []
    for name, value in overrides.items():
        if name not in specs or supplier(name) != FROM_STAGE_FILE:
            settable = ", ".join(sorted(n for n in specs if supplier(n) == FROM_STAGE_FILE))
            problems.append(f"{name}: not a parameter a stage file may set ({settable})")
        elif name == "Stage":
            problems.append("Stage: set by STAGE=, not by LOCAL_PARAMS")
        elif why := stage_params.check_value(name, specs[name], value):
            problems.append(f"{name}: {why}")
    if not problems:
        problems += stage_params.broken_rules(template, {**file_values, **overrides})
    if problems:
        raise stage_params.ParamsError("LOCAL_PARAMS:\n  " + "\n  ".join(problems))
    return dict(overrides)


def create(stage: str, stack_name: str, region: str, dist: Path, params_dir: Path,
           overrides: Mapping[str, str] | None = None) -> LocalStack:  # fmt: skip
    """Create the stage's stack from dist/ in the AWS that boto3 reaches (moto, via
    AWS_ENDPOINT_URL). Raises deploy.DeployError or stage_params.ParamsError before any AWS call
    when dist/ or the params file is not right. `overrides` (parameter -> value) replace the
    stage file's values for this local stack only (checked_overrides)."""
    p = deploy.prepare(stage, stack_name, region, dist, params_dir)
    given = checked_overrides(p.template, p.values, overrides or {})
    session = boto3.Session(region_name=region)
    s3, cfn = session.client("s3"), session.client("cloudformation")
    deploy.ensure_bucket(s3, ACCOUNT_BUCKET, region)
    deploy.upload_missing(s3, ACCOUNT_BUCKET, p)
    template_key = f"{deploy.TEMPLATE_PREFIX}/{stack_name}.json"
    s3.upload_file(str(dist / "template.json"), ACCOUNT_BUCKET, template_key)
    values = {**p.values, **given, "ArtifactBucket": ACCOUNT_BUCKET}
    cfn.create_stack(
        StackName=stack_name,
        # moto finds a path-style TemplateURL's bucket only when the host is `localhost`.
        TemplateURL=f"http://localhost:{urlsplit(s3.meta.endpoint_url).port}/"
        f"{ACCOUNT_BUCKET}/{template_key}",
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in sorted(values.items())
            if k in p.template["Parameters"]
        ],
        Capabilities=["CAPABILITY_IAM"],
        Tags=[
            {"Key": key, "Value": value}
            for key, value in (tag.split("=", 1) for tag in deploy.stack_tags(p, values))
        ],
    )
    status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise deploy.DeployError(f"local stack {stack_name}: {status}")
    # ListStackResources: DescribeStackResources stops at 100 resources.
    listed = preflight.live_resources(cfn, stack_name) or {}
    physical = {rid: physical_id for rid, (_, physical_id) in listed.items()}
    return LocalStack(
        name=stack_name,
        region=region,
        parameters=deploy.full_parameters(p, values),
        physical=physical,
        environments=_environments(session.client("lambda"), p.template, physical),
        template=p.template,
    )


def _environments(
    lambda_client: Any, template: dict[str, Any], physical: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Each function's environment variables, as Lambda (moto) holds them after the create."""
    out = {}
    for logical, resource in sorted(template["Resources"].items()):
        if resource["Type"] == "AWS::Lambda::Function" and logical in physical:
            config = lambda_client.get_function_configuration(FunctionName=physical[logical])
            out[logical] = dict(config.get("Environment", {}).get("Variables", {}))
    return out


# A part of the template as a stack of its own ---------------------------------------------------


def with_dependencies(template: dict, logical_ids: list[str]) -> list[str]:
    """These resources and every resource they reference, directly or not, in template order."""
    wanted, todo = set(), list(logical_ids)
    while todo:
        rid = todo.pop()
        if rid in wanted:
            continue
        wanted.add(rid)
        resource = template["Resources"][rid]
        todo += [r for r in named(resource) if r in template["Resources"]]
        todo += resource.get("DependsOn", [])
    return [r for r in template["Resources"] if r in wanted]


def subset(template: dict, logical_ids: list[str]) -> dict:
    """A template of just these resources and those they need, the conditions, and the
    parameters they reference."""
    resources = {i: template["Resources"][i] for i in with_dependencies(template, logical_ids)}
    conditions = template.get("Conditions", {})
    used = set(named(resources)) | set(named(conditions))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {k: v for k, v in template["Parameters"].items() if k in used},
        "Conditions": conditions,
        "Resources": resources,
    }


def stack_parameters(template: dict, values: Mapping[str, str]) -> list[dict]:
    """create_stack Parameters for the template's parameters found in `values`."""
    return [
        {"ParameterKey": k, "ParameterValue": values[k]}
        for k in template.get("Parameters", {})
        if k in values
    ]


def state_part(template: dict) -> dict:
    """The template's tables and bucket and what they need (their key, the conditions and
    parameters they read), without the functions and the API: for running the handlers
    in-process against the template's own data resources."""
    ids = [rid for rid, r in template["Resources"].items() if r["Type"] in STATE_TYPES]
    return subset(template, ids)


def create_part(cloudformation: Any, name: str, part: dict, values: Mapping[str, str]) -> dict:
    """`part` created as stack `name` with those of `values` it has parameters for (moto's
    CloudFormation creates it before it answers); each resource's physical ID by logical ID."""
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(part), Parameters=stack_parameters(part, values)
    )
    resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


# The account ----------------------------------------------------------------------------------


def give_account_cloudwatch_role(endpoint: str, region: str, name: str = CLOUDWATCH_ROLE) -> str:
    """What an operator does once per account and region before API Gateway may log (a new
    account, like moto's, has none), here in the moto at `endpoint` (dummy credentials): a role
    API Gateway can assume that may write logs (the actions of the managed
    AmazonAPIGatewayPushToCloudWatchLogs, inline: moto has no AWS managed policies), set with
    `aws apigateway update-account`. Returns its ARN."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    iam = session.client("iam", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "apigateway.amazonaws.com"},
            }
        ],
    }
    push = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                ],
            }
        ],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        made = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        arn = made["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name, PolicyName="push-to-cloudwatch-logs", PolicyDocument=json.dumps(push)
        )
    session.client("apigateway", endpoint_url=endpoint).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )
    return arn
