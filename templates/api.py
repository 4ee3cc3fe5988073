"""REST API: one method per catalog row, a Stage, and the stage's deployment, which a custom
resource makes whenever the API's definition or one of its parameters changes
(templates/api_deployment.py)."""

import json
from dataclasses import dataclass

from troposphere import (
    And,
    Condition,
    Equals,
    GetAtt,
    If,
    Not,
    NoValue,
    Ref,
    Sub,
    Template,
    apigateway,
    awslambda,
    iam,
)

from . import api_deployment, cors
from .catalog import COLLECTION, ROUTES, FunctionSpec
from .data import RETAIN_ALWAYS
from .deployments import LIVE
from .item_schema import ITEM_SCHEMA
from .log_groups import LogGroups, api_execution
from .naming import logical_id
from .parameters import IS_PROD, Params, refuse
from .security import api_gateway_logging_policy, assumed_by
from .suppressions import suppress

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
CACHING = "ApiCaching"  # condition: CacheTtlSeconds > 0
DATA_TRACE = "ApiDataTraceOn"  # condition: asked for, and not prod
STAGE_VARIABLES_ALIAS = LIVE  # the function alias stage variables announce (seed 001)
API_KEY_AUTH = "ApiKeyAuth"  # condition: AuthType API_KEY
IAM_AUTH = "IamAuth"  # condition: AuthType AWS_IAM
PROD_NEEDS_AUTH = "ProdRequiresAuth"  # rule
BODY_METHODS = ("POST", "PUT")  # methods whose JSON body API Gateway checks against the model


@dataclass(frozen=True)
class Api:
    rest_api: apigateway.RestApi
    stage: apigateway.Stage
    methods: dict[str, apigateway.Method]  # function name -> its method
    api_key: apigateway.ApiKey  # exists only while AuthType is API_KEY (condition API_KEY_AUTH)
    redeploying: set[str]  # parameters whose change deploys the API again


@dataclass(frozen=True)
class BodyCheck:
    """API Gateway's own check of request bodies, before any function runs."""

    validator: apigateway.RequestValidator
    model: apigateway.Model


def _sub_segment(segment: str, parameter: str) -> str:
    """A route segment in Sub syntax: the collection is the RoutePrefix parameter, and a
    `{name}` path parameter becomes `parameter` (`*` in ARNs, itself in resource paths)."""
    if segment == COLLECTION:
        return "${RoutePrefix}"
    return parameter if segment.startswith("{") else segment


def source_arn(rest_api: apigateway.RestApi, spec: FunctionSpec) -> Sub:
    """execute-api ARN of exactly this route's method (any stage): path parameters become `*`."""
    path = "/".join(_sub_segment(s, "*") for s in spec.path)
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{{rest_api.title}}}/*/{spec.method}/{path}"
    )


def _resources(
    t: Template, rest_api: apigateway.RestApi, params: Params
) -> dict[tuple[str, ...], apigateway.Resource]:
    """One apigateway.Resource per distinct path prefix (the root is the API's own)."""
    made: dict[tuple[str, ...], apigateway.Resource] = {}
    for f in ROUTES:
        for depth in range(1, len(f.path) + 1):
            path = f.path[:depth]
            if path not in made:
                made[path] = t.add_resource(
                    apigateway.Resource(
                        logical_id("api", *path, "resource"),
                        RestApiId=Ref(rest_api),
                        ParentId=_resource_id(rest_api, made, path[:-1]),
                        PathPart=Ref(params.route_prefix) if path[-1] == COLLECTION else path[-1],
                    )
                )
    return made


def _resource_id(
    rest_api: apigateway.RestApi, made: dict[tuple[str, ...], apigateway.Resource], path: tuple
) -> object:
    return Ref(made[path]) if path else rest_api.get_att("RootResourceId")


def _path_parameters(spec: FunctionSpec) -> dict:
    """Declare the route's `{name}` segments as required path parameters."""
    names = [s[1:-1] for s in spec.path if s.startswith("{")]
    if not names:
        return {}
    return {"RequestParameters": {f"method.request.path.{n}": True for n in names}}


def _cached(spec: FunctionSpec) -> bool:
    """Only GET /<prefix>/{id} is cached: its answer depends on the path alone (the versions
    route also reads limit and next_token, which the cache key would not see)."""
    return spec.method == "GET" and spec.path[-1:] == ("{id}",)


def _cache_keys(spec: FunctionSpec) -> dict:
    return {"CacheKeyParameters": ["method.request.path.id"]} if _cached(spec) else {}


def _checked_body(spec: FunctionSpec, check: BodyCheck) -> dict:
    if spec.method not in BODY_METHODS:
        return {}
    return {
        "RequestValidatorId": Ref(check.validator),
        "RequestModels": {"application/json": Ref(check.model)},
    }


def _method(t, rest_api, resource_id, spec: FunctionSpec, alias: awslambda.Alias, check):
    return t.add_resource(
        apigateway.Method(
            logical_id(spec.name, "method"),
            RestApiId=Ref(rest_api),
            ResourceId=resource_id,
            HttpMethod=spec.method,
            AuthorizationType=If(IAM_AUTH, "AWS_IAM", "NONE"),
            ApiKeyRequired=If(API_KEY_AUTH, True, False),
            **_path_parameters(spec),
            **_checked_body(spec, check),
            Integration=apigateway.Integration(
                Type="AWS_PROXY",
                IntegrationHttpMethod="POST",
                **_cache_keys(spec),
                Uri=Sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                    "functions/${Arn}/invocations",
                    Arn=Ref(alias),  # an alias's Ref is its ARN
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
            **RETAIN_ALWAYS,
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
            **RETAIN_ALWAYS,
            CloudWatchRoleArn=role.get_att("Arn"),
        )
    )


def _method_setting(params: Params, path: str | Sub, method: str, **cache) -> dict:
    """One stage method setting. A method-level entry replaces the stage-wide one for that
    method, so each repeats throttling and logging."""
    return apigateway.MethodSetting(
        ResourcePath=path,
        HttpMethod=method,
        ThrottlingRateLimit=Ref(params.throttling_rate_limit),
        ThrottlingBurstLimit=Ref(params.throttling_burst_limit),
        LoggingLevel=Ref(params.api_logging_level),
        DataTraceEnabled=If(DATA_TRACE, True, False),
        MetricsEnabled=True,
        **cache,
    )


def setting_path(spec: FunctionSpec) -> str:
    """A method setting's ResourcePath in Sub syntax: the route's path with every `/` written
    `~1`, after the leading `/` (`/items/{id}` is `/~1items~1{id}`). API Gateway stores a key
    that names no method without complaint, and it then configures nothing."""
    return "/" + "".join("~1" + _sub_segment(s, s) for s in spec.path)


def _method_settings(params: Params) -> list:
    """Stage-wide defaults, then the cached GET-by-id routes."""
    cached = [
        _method_setting(
            params,
            Sub(setting_path(f)),
            f.method,
            CachingEnabled=If(CACHING, True, False),
            CacheTtlInSeconds=Ref(params.cache_ttl_seconds),
            CacheDataEncrypted=True,
        )
        for f in ROUTES
        if _cached(f)
    ]
    return [_method_setting(params, "/*", "*"), *cached]


def _stage(t, rest_api, deployment, account, params: Params, log_groups: LogGroups):
    """The stage waits for its execution log group, so API Gateway never makes its own."""
    t.add_condition(CACHING, Not(Equals(Ref(params.cache_ttl_seconds), 0)))
    t.add_condition(
        DATA_TRACE,
        And(Equals(Ref(params.api_data_trace), "true"), Not(Condition(IS_PROD))),
    )
    execution_logs = api_execution(t, params, log_groups, rest_api)
    stage = apigateway.Stage(
        logical_id("api", "stage"),
        DependsOn=[execution_logs.title],
        RestApiId=Ref(rest_api),
        DeploymentId=GetAtt(deployment, api_deployment.DEPLOYMENT_ID),
        StageName=Ref(params.stage),
        # The If makes the stage wait for the account's logging role when this stack sets it.
        Description=If(
            CREATE_ACCOUNT_ROLE,
            Sub("items-api stage (logging role set by ${Account})", Account=Ref(account)),
            "items-api stage",
        ),
        TracingEnabled=True,
        CacheClusterEnabled=If(CACHING, True, False),
        CacheClusterSize=If(CACHING, Ref(params.cache_cluster_size), NoValue),
        Variables={"environment": Ref(params.stage), "lambdaAlias": STAGE_VARIABLES_ALIAS},
        AccessLogSetting=apigateway.AccessLogSetting(
            DestinationArn=log_groups.api_access.get_att("Arn"),
            Format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
        ),
        MethodSettings=_method_settings(params),
    )
    suppress(
        stage,
        "CKV_AWS_120",
        "Caching is a per-stage choice (CacheTtlSeconds): a cache cluster is billed by the hour "
        "and makes reads stale after a write, so it is off unless a stage file turns it on.",
    )
    return t.add_resource(stage)


def _access_control(t: Template, params: Params) -> None:
    t.add_condition(API_KEY_AUTH, Equals(Ref(params.auth_type), "API_KEY"))
    t.add_condition(IAM_AUTH, Equals(Ref(params.auth_type), "AWS_IAM"))
    refuse(
        t,
        PROD_NEEDS_AUTH,
        (params.stage, "prod"),
        (params.auth_type, "NONE"),
        why="AuthType NONE cannot be combined with Stage prod: anyone could read and change the "
        "production items. Use API_KEY or AWS_IAM.",
    )


def _body_check(t: Template, rest_api: apigateway.RestApi) -> BodyCheck:
    """One model from items_common/item_schema.json, the file the handlers check with too."""
    return BodyCheck(
        validator=t.add_resource(
            apigateway.RequestValidator(
                logical_id("api", "body", "validator"),
                RestApiId=Ref(rest_api),
                Name="body-and-parameters",
                ValidateRequestBody=True,
                ValidateRequestParameters=True,
            )
        ),
        model=t.add_resource(
            apigateway.Model(
                logical_id("item", "model"),
                RestApiId=Ref(rest_api),
                Name="Item",
                ContentType="application/json",
                Description=ITEM_SCHEMA["description"],
                Schema=ITEM_SCHEMA,
            )
        ),
    )


def _api_key(t: Template, rest_api, stage, params: Params) -> apigateway.ApiKey:
    """AuthType API_KEY: one key, in a usage plan with the stage's throttling and a quota. The
    key's value is never an output: read it with `aws apigateway get-api-key --include-value`."""
    key = t.add_resource(
        apigateway.ApiKey(
            logical_id("api", "key"),
            Condition=API_KEY_AUTH,
            Name=Sub("${AWS::StackName}"),
            Description="items-api client key (value: aws apigateway get-api-key --include-value)",
            Enabled=True,
        )
    )
    plan = t.add_resource(
        apigateway.UsagePlan(
            logical_id("api", "usage", "plan"),
            Condition=API_KEY_AUTH,
            DependsOn=[stage.title],
            UsagePlanName=Sub("${AWS::StackName}"),
            ApiStages=[apigateway.ApiStage(ApiId=Ref(rest_api), Stage=Ref(params.stage))],
            Throttle=apigateway.ThrottleSettings(
                RateLimit=Ref(params.throttling_rate_limit),
                BurstLimit=Ref(params.throttling_burst_limit),
            ),
            Quota=apigateway.QuotaSettings(
                Limit=Ref(params.api_quota_limit), Period=Ref(params.api_quota_period)
            ),
        )
    )
    t.add_resource(
        apigateway.UsagePlanKey(
            logical_id("api", "usage", "plan", "key"),
            Condition=API_KEY_AUTH,
            KeyId=Ref(key),
            KeyType="API_KEY",
            UsagePlanId=Ref(plan),
        )
    )
    return key


def add(
    t: Template, params: Params, aliases: dict[str, awslambda.Alias], log_groups: LogGroups
) -> Api:
    """Every route invokes its function's `live` alias, so CodeDeploy decides which version
    answers."""
    rest_api = t.add_resource(
        apigateway.RestApi(
            logical_id("api"),
            Name=Sub("${AWS::StackName}"),
            Description="items-api CRUD API",
            EndpointConfiguration=apigateway.EndpointConfiguration(Types=["REGIONAL"]),
        )
    )
    _access_control(t, params)
    check = _body_check(t, rest_api)
    resources = _resources(t, rest_api, params)
    methods = {}
    for f in ROUTES:
        alias = aliases[f.name]
        resource_id = _resource_id(rest_api, resources, f.path)
        methods[f.name] = _method(t, rest_api, resource_id, f, alias, check)
        t.add_resource(
            awslambda.Permission(
                logical_id(f.name, "permission"),
                FunctionName=Ref(alias),
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=source_arn(rest_api, f),
                SourceAccount=Ref("AWS::AccountId"),
            )
        )
    preflights = [
        cors.preflight(
            t,
            rest_api,
            _resource_id(rest_api, resources, path),
            path,
            [f.method for f in ROUTES if f.path == path],
            params,
        )
        for path in [(), *resources]
    ]
    cors.add_rules(t, params)
    responses = cors.gateway_responses(t, rest_api, params)
    # Everything a deployment snapshots, once all of it is built: it hashes it and waits for it.
    definition = [rest_api, check.validator, check.model, *resources.values(),
                  *methods.values(), *preflights, *responses]  # fmt: skip
    deployment = api_deployment.add(t, params, rest_api, log_groups, definition)
    account = _account_logging_role(t, params)
    stage = _stage(t, rest_api, deployment, account, params, log_groups)
    api_key = _api_key(t, rest_api, stage, params)
    return Api(rest_api=rest_api, stage=stage, methods=methods, api_key=api_key,
               redeploying=set(deployment.Parameters))  # fmt: skip
