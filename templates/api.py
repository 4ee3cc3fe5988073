"""REST API: one method per catalog row, a Deployment named by the API's content, a Stage.

CloudFormation only redeploys a stage when the Deployment resource is replaced, so the
Deployment's logical ID is a hash of every Resource and Method: any API change gives a new ID,
and nothing else does."""

import hashlib
import json
from dataclasses import dataclass

from troposphere import Equals, If, Ref, Sub, Template, apigateway, awslambda, iam

from .catalog import FUNCTIONS, FunctionSpec
from .data import RETAIN
from .functions import Functions
from .log_groups import LogGroups
from .naming import logical_id
from .parameters import Params
from .security import api_gateway_logging_policy, assumed_by

# $context fields of the JSON access log (seed 000's list, plus request id and latency).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "caller": "$context.identity.caller",
    "httpMethod": "$context.httpMethod",
    "ip": "$context.identity.sourceIp",
    "protocol": "$context.protocol",
    "requestTime": "$context.requestTime",
    "resourcePath": "$context.resourcePath",
    "responseLength": "$context.responseLength",
    "status": "$context.status",
    "user": "$context.identity.user",
    "integrationLatency": "$context.integrationLatency",
}
CREATE_ACCOUNT_ROLE = "CreateApiGatewayAccountRoleCondition"


@dataclass(frozen=True)
class Api:
    rest_api: apigateway.RestApi
    stage: apigateway.Stage
    methods: dict[str, apigateway.Method]  # function name -> its method


def deployment_id(api_resources: list) -> str:
    """`ApiDeployment<hash>` of the canonical JSON of every API Resource and Method."""
    canonical = json.dumps(
        {r.title: r.to_dict() for r in api_resources}, sort_keys=True, separators=(",", ":")
    )
    return logical_id("api", "deployment", hashlib.sha256(canonical.encode()).hexdigest()[:12])


def source_arn(rest_api: apigateway.RestApi, spec: FunctionSpec) -> Sub:
    """execute-api ARN of exactly this route's method (any stage): path parameters become `*`."""
    path = "/".join("*" if s.startswith("{") else s for s in spec.path)
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{{rest_api.title}}}/*/{spec.method}/{path}"
    )


def _resources(t: Template, rest_api: apigateway.RestApi) -> dict[tuple[str, ...], object]:
    """One apigateway.Resource per distinct path prefix; `()` is the root."""
    parents: dict[tuple[str, ...], object] = {(): rest_api.get_att("RootResourceId")}
    for f in FUNCTIONS:
        for depth in range(1, len(f.path) + 1):
            path = f.path[:depth]
            if path not in parents:
                parent = parents[path[:-1]]
                parents[path] = Ref(
                    t.add_resource(
                        apigateway.Resource(
                            logical_id("api", *path, "resource"),
                            RestApiId=Ref(rest_api),
                            ParentId=parent,
                            PathPart=path[-1],
                        )
                    )
                )
    return parents


def _path_parameters(spec: FunctionSpec) -> dict:
    """Declare the route's `{name}` segments as required path parameters."""
    names = [s[1:-1] for s in spec.path if s.startswith("{")]
    if not names:
        return {}
    return {"RequestParameters": {f"method.request.path.{n}": True for n in names}}


def _method(t, rest_api, resource_id, spec: FunctionSpec, fn: awslambda.Function):
    return t.add_resource(
        apigateway.Method(
            logical_id(spec.name, "method"),
            RestApiId=Ref(rest_api),
            ResourceId=resource_id,
            HttpMethod=spec.method,
            AuthorizationType="NONE",
            **_path_parameters(spec),
            Integration=apigateway.Integration(
                Type="AWS_PROXY",
                IntegrationHttpMethod="POST",
                Uri=Sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                    "functions/${Arn}/invocations",
                    Arn=fn.get_att("Arn"),
                ),
            ),
        )
    )


def _account_logging_role(t: Template, params: Params) -> apigateway.Account:
    """The account-wide CloudWatch role API Gateway logs through (optional, retained)."""
    t.add_condition(
        CREATE_ACCOUNT_ROLE, Equals(Ref(params.create_api_gateway_account_role), "true")
    )
    role = t.add_resource(
        iam.Role(
            logical_id("api", "gateway", "cloud", "watch", "role"),
            Condition=CREATE_ACCOUNT_ROLE,
            **RETAIN,
            AssumeRolePolicyDocument=assumed_by("apigateway"),
            Policies=[
                iam.Policy(PolicyName="push-logs", PolicyDocument=api_gateway_logging_policy())
            ],
        )
    )
    return t.add_resource(
        apigateway.Account(
            logical_id("api", "gateway", "account"),
            Condition=CREATE_ACCOUNT_ROLE,
            **RETAIN,
            CloudWatchRoleArn=role.get_att("Arn"),
        )
    )


def add(t: Template, params: Params, functions: Functions, log_groups: LogGroups) -> Api:
    rest_api = t.add_resource(
        apigateway.RestApi(
            logical_id("api"),
            Name=Sub("${AWS::StackName}"),
            Description="items-api CRUD API",
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
        )
    )
    resource_ids = _resources(t, rest_api)
    methods = {}
    for f in FUNCTIONS:
        fn = functions.by_name[f.name]
        methods[f.name] = _method(t, rest_api, resource_ids[f.path], f, fn)
        t.add_resource(
            awslambda.Permission(
                logical_id(f.name, "permission"),
                FunctionName=fn.get_att("Arn"),
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=source_arn(rest_api, f),
                SourceAccount=Ref("AWS::AccountId"),
            )
        )
    api_resources = [r for r in t.resources.values() if isinstance(r, apigateway.Resource)]
    deployment = t.add_resource(
        apigateway.Deployment(
            deployment_id(api_resources + list(methods.values())),
            DependsOn=sorted(m.title for m in methods.values()),
            RestApiId=Ref(rest_api),
            Description="Named by a hash of the API's resources and methods.",
        )
    )
    account = _account_logging_role(t, params)
    stage = t.add_resource(
        apigateway.Stage(
            logical_id("api", "stage"),
            RestApiId=Ref(rest_api),
            DeploymentId=Ref(deployment),
            StageName=Ref(params.stage),
            # The If makes the stage wait for the account's logging role when this stack sets it.
            Description=If(
                CREATE_ACCOUNT_ROLE,
                Sub("items-api stage (logging role set by ${Account})", Account=Ref(account)),
                "items-api stage",
            ),
            TracingEnabled=True,
            AccessLogSetting=apigateway.AccessLogSetting(
                DestinationArn=log_groups.api_access.get_att("Arn"),
                Format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            MethodSettings=[
                apigateway.MethodSetting(
                    ResourcePath="/*",
                    HttpMethod="*",
                    ThrottlingRateLimit=Ref(params.throttling_rate_limit),
                    ThrottlingBurstLimit=Ref(params.throttling_burst_limit),
                    LoggingLevel=Ref(params.api_logging_level),
                    DataTraceEnabled=False,
                    MetricsEnabled=True,
                )
            ],
        )
    )
    return Api(rest_api=rest_api, stage=stage, methods=methods)
