"""The stage's deployment, made by a custom resource that follows the API's parameters.

CloudFormation creates a new API Gateway deployment only when an AWS::ApiGateway::Deployment
resource is new: a parameter edit (RoutePrefix, AuthType, a Cors* value) updates the methods and
gateway responses, and the stage keeps serving its old snapshot. So the stage's DeploymentId is
this custom resource's: its properties carry every parameter that reaches the API's definition
(read from the template itself, so a new one cannot be forgotten) and a hash of that definition.
Any change of either sends it an Update, its handler (functions/api_deployment) creates a
deployment, and the stage is updated to it in the same stack update. On a rollback CloudFormation
sends the old properties, and the handler deploys the restored API the same way.

The handler's function has its own role: create deployments of this REST API, write its own log
group, X-Ray. It is not a catalog row: no route, no published version, no alias."""

import hashlib
import json
from typing import ClassVar

from awacs.apigateway import POST
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import AWSObject, GetAtt, Join, Ref, Sub, Template, apigateway, awslambda, iam
from troposphere.cloudformation import AWSCustomObject

from tools.intrinsics import parameters_read

from .catalog import API_DEPLOYMENT
from .functions import ARCHITECTURE, RUNTIME, code
from .log_groups import LOG_RETENTION_DAYS, LogGroups, log_group, logging_config
from .naming import logical_id, physical_name
from .permissions import log_writing, xray_writing
from .security import assumed_by
from .suppressions import suppress

# Seconds the handler may run: CreateDeployment is rate limited per account (retried within
# this), and the handler answers CloudFormation before it runs out.
TIMEOUT = 60
# How long CloudFormation waits for an answer (1 to 3600 s, default 3600): should the function
# never answer (it cannot start, or Lambda drops the event), the stack fails in minutes, not an
# hour. Room for the function's Timeout and one of Lambda's asynchronous retries.
SERVICE_TIMEOUT = 300
MEMORY = 128
DEPLOYMENT_ID = "DeploymentId"  # the attribute the stage reads (the handler's Data key)


class ApiDeployment(AWSCustomObject):
    resource_type = "Custom::ApiDeployment"
    props: ClassVar[dict] = {
        "ServiceToken": (str, True),
        "ServiceTimeout": (int, True),
        "RestApiId": (str, True),
        "ApiHash": (str, True),
        "Parameters": (dict, True),
    }


def snapshot(resource: AWSObject) -> dict:
    """What a deployment snapshots of a resource: all but its Tags (tagging the API changes
    nothing the stage serves, so a tag edit neither redeploys nor reaches the deployment)."""
    node = resource.to_dict()
    node.get("Properties", {}).pop("Tags", None)
    return node


def definition_hash(resources: list[AWSObject]) -> str:
    """`sha256:<hex>` of the canonical JSON of the resources' snapshots, by logical ID
    (labelled, so that secret scanners do not read a bare 64-digit hex string as a key)."""
    canonical = json.dumps(
        {r.title: snapshot(r) for r in resources}, sort_keys=True, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _value(t: Template, name: str) -> object:
    """A parameter as custom resource properties carry it: text (a list joined by commas)."""
    if t.parameters[name].Type == "CommaDelimitedList":
        return Join(",", Ref(name))
    return Ref(name)


def _policy(rest_api: apigateway.RestApi, group: GetAtt) -> PolicyDocument:
    """CreateDeployment is `POST /restapis/<id>/deployments`: on this API only."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="CreateDeployment",
                Effect=Allow,
                Action=[POST],
                Resource=[
                    Sub(
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/"
                        f"${{{rest_api.title}}}/deployments"
                    )
                ],
            ),
            log_writing(group),
            xray_writing(),
        ],
    )


def _function(t: Template, rest_api, log_groups: LogGroups) -> awslambda.Function:
    group = log_group(t, API_DEPLOYMENT, LOG_RETENTION_DAYS, log_groups.key)
    role = t.add_resource(
        iam.Role(
            logical_id(API_DEPLOYMENT, "role"),
            AssumeRolePolicyDocument=assumed_by("lambda"),
            Policies=[
                iam.Policy(
                    PolicyName="create-deployments",
                    PolicyDocument=_policy(rest_api, group.get_att("Arn")),
                )
            ],
        )
    )
    fn = awslambda.Function(
        logical_id(API_DEPLOYMENT, "function"),
        FunctionName=physical_name(API_DEPLOYMENT),
        Description="Deploys the REST API when its definition or parameters change (custom "
        "resource of the stage's DeploymentId).",
        Handler="app.lambda_handler",
        Runtime=RUNTIME.ref(),
        Architectures=[ARCHITECTURE.ref()],
        MemorySize=MEMORY,
        Timeout=TIMEOUT,
        Role=role.get_att("Arn"),
        Code=awslambda.Code(**code(API_DEPLOYMENT)),
        TracingConfig=awslambda.TracingConfig(Mode="Active"),
        LoggingConfig=logging_config(group),
        RecursiveLoop="Terminate",
    )
    for rule, reason in CHECKOV_REASONS.items():
        suppress(fn, rule, reason)
    return t.add_resource(fn)


CHECKOV_REASONS = {
    "CKV_AWS_116": "CloudFormation invokes it and waits for its answer: the handler answers on "
    "every path (tests/functions/test_api_deployment_handler.py), so a failed event has "
    "nobody to go to.",
    "CKV_AWS_117": "It calls only API Gateway's control plane and CloudFormation's response URL; "
    "in the functions' VPC it would need a NAT or endpoints for both, or hang the stack.",
    "CKV_AWS_115": "It runs once per stack update; reserving concurrency would take it from the "
    "account for nothing.",
}


def add(t: Template, rest_api, log_groups: LogGroups, resources: list[AWSObject]) -> ApiDeployment:
    """`resources`: the API's whole definition, every resource of the types a deployment
    snapshots (RestApi, Resource, Method, GatewayResponse, Model, RequestValidator, Authorizer;
    tests/templates/test_api_deployment_template.py checks that none is missing): the
    deployment waits for all of them, and hashes them."""
    fn = _function(t, rest_api, log_groups)
    return t.add_resource(
        ApiDeployment(
            logical_id("api", "deployment"),
            DependsOn=sorted(r.title for r in resources if r is not rest_api),
            ServiceToken=fn.get_att("Arn"),
            ServiceTimeout=SERVICE_TIMEOUT,
            RestApiId=Ref(rest_api),
            ApiHash=definition_hash(resources),
            Parameters={
                name: _value(t, name)
                for name in parameters_read(t, [snapshot(r) for r in resources])
            },
        )
    )
