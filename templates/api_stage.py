"""The API's stage: what serves the API's deployment to callers. Its method settings (throttling,
execution logging, the cache of GET by id), its access and execution logs, the account's
logging role, and the API key with its usage plan (AuthType API_KEY)."""

import json
from dataclasses import dataclass
from functools import partial

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
    iam,
)

from . import api_deployment
from .api import API_KEY_AUTH, Api, cached, setting_path
from .catalog import ROUTES
from .data import RETAIN_ALWAYS
from .deployments import LIVE
from .log_groups import LogGroups, api_execution
from .naming import logical_id
from .parameters import BOOLEAN, choice, number
from .security import api_gateway_logging_policy, assumed_by
from .stage import IS_PROD, STAGE
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

# The stage's throttle (and the usage plan's, with API keys): API Gateway's own bounds.
_throttle = partial(number, group="API", low=1, high=10000)
THROTTLING_RATE_LIMIT = _throttle(
    "ThrottlingRateLimit",
    label="Throttling rate (req/s)",
    description="Steady-state requests per second the stage accepts before answering 429.",
    unit="requests per second",
)
THROTTLING_BURST_LIMIT = _throttle(
    "ThrottlingBurstLimit",
    label="Throttling burst",
    description="Requests the stage accepts at once above the rate before answering 429.",
    unit="requests",
)
CACHE_TTL_SECONDS = number(
    "CacheTtlSeconds",
    group="API",
    label="Cache TTL (s), 0 = no cache",
    description="API Gateway cache for GET by id, keyed on {id}, encrypted. 0 turns the cache "
    "cluster off (it is billed per hour while on). Reads may be this stale after a write.",
    low=0,
    high=3600,
    unit="seconds",
    default=0,
)
CACHE_CLUSTER_SIZE = choice(
    "CacheClusterSize",
    group="API",
    label="Cache size (GB)",
    description="Size of the API cache cluster when the TTL is above 0.",
    allowed=("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"),
    default="0.5",
)
API_DATA_TRACE = choice(
    "ApiDataTrace",
    group="API",
    label="Log full requests and responses",
    description="API Gateway data trace: logs request and response bodies. Ignored in prod (never "
    "on there: bodies may hold personal data).",
    allowed=BOOLEAN,
    default="false",
)
API_LOGGING_LEVEL = choice(
    "ApiLoggingLevel",
    group="API",
    label="Execution log level",
    description="API Gateway execution logging. Needs the account's CloudWatch role (see below).",
    allowed=("OFF", "ERROR", "INFO"),
    default="ERROR",
)
CREATE_API_GATEWAY_ACCOUNT_ROLE = choice(
    "CreateApiGatewayAccountRole",
    group="API",
    label="Create the account's API Gateway logging role",
    description="API Gateway writes access and execution logs only once the account has a "
    "CloudWatch role (one per account and region). true: this stack creates it and sets it; both "
    "are RETAINED when the stack is deleted, because other APIs in the account rely on it. Set "
    "true in one stack per account and region, false elsewhere.",
    allowed=BOOLEAN,
    default="false",
)
API_QUOTA_LIMIT = number(
    "ApiQuotaLimit",
    group="Access",
    label="API key quota (requests)",
    description="Requests the API key may make per quota period (AuthType API_KEY).",
    low=1,
    high=1000000000,
    unit="requests",
    default=100000,
)
API_QUOTA_PERIOD = choice(
    "ApiQuotaPeriod",
    group="Access",
    label="API key quota period",
    description="The period the quota counts over.",
    allowed=("DAY", "WEEK", "MONTH"),
    default="DAY",
)
PARAMETERS = (
    THROTTLING_RATE_LIMIT,
    THROTTLING_BURST_LIMIT,
    CACHE_TTL_SECONDS,
    CACHE_CLUSTER_SIZE,
    API_DATA_TRACE,
    API_LOGGING_LEVEL,
    CREATE_API_GATEWAY_ACCOUNT_ROLE,
    API_QUOTA_LIMIT,
    API_QUOTA_PERIOD,
)


@dataclass(frozen=True)
class ApiStage:
    stage: apigateway.Stage
    api_key: apigateway.ApiKey  # exists only while AuthType is API_KEY (condition API_KEY_AUTH)


def _account_logging_role(t: Template) -> apigateway.Account:
    """The account-wide CloudWatch role API Gateway logs through (optional, retained)."""
    t.add_condition(CREATE_ACCOUNT_ROLE, Equals(CREATE_API_GATEWAY_ACCOUNT_ROLE.ref(), "true"))
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


def _method_setting(path: str | Sub, method: str, **cache) -> dict:
    """One stage method setting. A method-level entry replaces the stage-wide one for that
    method, so each repeats throttling and logging."""
    return apigateway.MethodSetting(
        ResourcePath=path,
        HttpMethod=method,
        ThrottlingRateLimit=THROTTLING_RATE_LIMIT.ref(),
        ThrottlingBurstLimit=THROTTLING_BURST_LIMIT.ref(),
        LoggingLevel=API_LOGGING_LEVEL.ref(),
        DataTraceEnabled=If(DATA_TRACE, True, False),
        MetricsEnabled=True,
        **cache,
    )


def _method_settings() -> list:
    """Stage-wide defaults, then the cached GET-by-id routes."""
    cached_routes = [
        _method_setting(
            Sub(setting_path(f)),
            f.method,
            CachingEnabled=If(CACHING, True, False),
            CacheTtlInSeconds=CACHE_TTL_SECONDS.ref(),
            CacheDataEncrypted=True,
        )
        for f in ROUTES
        if cached(f)
    ]
    return [_method_setting("/*", "*"), *cached_routes]


def _stage(t, api: Api, account, log_groups: LogGroups) -> apigateway.Stage:
    """The stage waits for its execution log group, so API Gateway never makes its own."""
    t.add_condition(CACHING, Not(Equals(CACHE_TTL_SECONDS.ref(), 0)))
    t.add_condition(
        DATA_TRACE,
        And(Equals(API_DATA_TRACE.ref(), "true"), Not(Condition(IS_PROD))),
    )
    execution_logs = api_execution(t, log_groups, api.rest_api)
    stage = apigateway.Stage(
        logical_id("api", "stage"),
        DependsOn=[execution_logs.title],
        RestApiId=Ref(api.rest_api),
        DeploymentId=GetAtt(api.deployment, api_deployment.DEPLOYMENT_ID),
        StageName=STAGE.ref(),
        # The If makes the stage wait for the account's logging role when this stack sets it.
        Description=If(
            CREATE_ACCOUNT_ROLE,
            Sub("items-api stage (logging role set by ${Account})", Account=Ref(account)),
            "items-api stage",
        ),
        TracingEnabled=True,
        CacheClusterEnabled=If(CACHING, True, False),
        CacheClusterSize=If(CACHING, CACHE_CLUSTER_SIZE.ref(), NoValue),
        Variables={"environment": STAGE.ref(), "lambdaAlias": STAGE_VARIABLES_ALIAS},
        AccessLogSetting=apigateway.AccessLogSetting(
            DestinationArn=log_groups.api_access.get_att("Arn"),
            Format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
        ),
        MethodSettings=_method_settings(),
    )
    suppress(
        stage,
        "CKV_AWS_120",
        "Caching is a per-stage choice (CacheTtlSeconds): a cache cluster is billed by the hour "
        "and makes reads stale after a write, so it is off unless a stage file turns it on.",
    )
    return t.add_resource(stage)


def _api_key(t: Template, rest_api, stage) -> apigateway.ApiKey:
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
            ApiStages=[apigateway.ApiStage(ApiId=Ref(rest_api), Stage=STAGE.ref())],
            Throttle=apigateway.ThrottleSettings(
                RateLimit=THROTTLING_RATE_LIMIT.ref(),
                BurstLimit=THROTTLING_BURST_LIMIT.ref(),
            ),
            Quota=apigateway.QuotaSettings(
                Limit=API_QUOTA_LIMIT.ref(), Period=API_QUOTA_PERIOD.ref()
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


def add(t: Template, api: Api, log_groups: LogGroups) -> ApiStage:
    """The stage of the API's deployment, after everything the deployment waits for."""
    account = _account_logging_role(t)
    stage = _stage(t, api, account, log_groups)
    return ApiStage(stage=stage, api_key=_api_key(t, api.rest_api, stage))
