"""Every role's IAM actions, spelled out by hand (#18). The other IAM tests derive the expected
grants from the catalog rows that also build the template, so a wrong row would pass them; this
table is written independently, so any change to what a role may do fails here until a reviewer
updates it on purpose.

Each role: the actions of every statement that grants to it (its own Policies and every
AWS::IAM::Policy naming it, conditional branches included), and the AWS managed policies it
attaches (by name). Telemetry and the async failure queue are on every function: logs to its
own group, X-Ray writes for Active tracing, sqs:SendMessage to the failure queue, and the KMS
actions of the keys those are encrypted with."""

from typing import Any

import pytest

TELEMETRY = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
EVERY_FUNCTION = TELEMETRY | {
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "sqs:SendMessage",
}
IN_VPC = {"AWSLambdaENIManagementAccess"}
# PUT and PATCH: read the item, write it (or its history row), store a new attachment.
UPDATE = EVERY_FUNCTION | {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "s3:PutObject",
    "s3:PutObjectTagging",
}

GOLDEN: dict[str, tuple[set[str], set[str]]] = {
    "HealthRole": (EVERY_FUNCTION, IN_VPC),
    "OpenapiRole": (EVERY_FUNCTION, IN_VPC),
    "ListItemsRole": (EVERY_FUNCTION | {"dynamodb:Query", "dynamodb:Scan"}, IN_VPC),
    "GetItemRole": (EVERY_FUNCTION | {"dynamodb:GetItem", "s3:GetObject"}, IN_VPC),
    "CreateItemRole": (
        EVERY_FUNCTION
        | {
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "s3:PutObject",
            "s3:PutObjectTagging",
        },
        IN_VPC,
    ),
    "UpdateItemRole": (UPDATE, IN_VPC),
    "PatchItemRole": (UPDATE, IN_VPC),
    "DeleteItemRole": (
        EVERY_FUNCTION
        | {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "s3:DeleteObject"},
        IN_VPC,
    ),
    "ListVersionsRole": (EVERY_FUNCTION | {"dynamodb:GetItem", "dynamodb:Query"}, IN_VPC),
    "StreamAuditRole": (
        EVERY_FUNCTION
        | {
            "dynamodb:DescribeStream",
            "dynamodb:GetItem",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "s3:DeleteObject",
            "s3:DeleteObjectTagging",
            "s3:PutObject",
        },
        IN_VPC,
    ),
    "FunctionsDeploymentRole": (set(), {"AWSCodeDeployRoleForLambdaLimited"}),
    "ApiDeploymentRole": (TELEMETRY | {"apigateway:POST"}, set()),
    "ApiGatewayCloudWatchRole": (
        {
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogGroups",
            "logs:DescribeLogStreams",
            "logs:FilterLogEvents",
            "logs:GetLogEvents",
            "logs:PutLogEvents",
        },
        set(),
    ),
}


def _actions(node: Any) -> set[str]:
    """Every action string under `node`, through Fn::If branches and nested statements."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key in ("Action", "NotAction"):
                values = value if isinstance(value, list) else [value]
                found |= {v for v in values if isinstance(v, str)}
                found |= _actions([v for v in values if not isinstance(v, str)])
            else:
                found |= _actions(value)
        return found
    if isinstance(node, list):
        return set().union(set(), *map(_actions, node))
    return set()


def _managed_names(node: Any) -> set[str]:
    """The AWS managed policies' names in a ManagedPolicyArns value (ARNs as Fn::Sub strings,
    through Fn::If branches): the ARN's last path segment."""
    if isinstance(node, str):
        return {node.rsplit("/", 1)[-1]} if ":policy/" in node else set()
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return set().union(set(), *map(_managed_names, values))


def grants(template: dict) -> dict[str, tuple[set[str], set[str]]]:
    resources = template["Resources"]
    found = {
        name: (
            _actions(spec["Properties"].get("Policies", [])),
            _managed_names(spec["Properties"].get("ManagedPolicyArns", [])),
        )
        for name, spec in resources.items()
        if spec["Type"] == "AWS::IAM::Role"
    }
    for spec in resources.values():
        if spec["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in spec["Properties"].get("Roles", []):
                found[role["Ref"]][0].update(_actions(spec["Properties"]["PolicyDocument"]))
    return found


def test_the_template_has_exactly_the_golden_roles(template):
    assert set(grants(template)) == set(GOLDEN)


@pytest.mark.parametrize("role", sorted(GOLDEN))
def test_each_role_may_do_exactly_what_the_golden_table_says(template, role):
    actions, managed = grants(template)[role]
    assert sorted(actions) == sorted(GOLDEN[role][0]), role
    assert managed == GOLDEN[role][1], role
