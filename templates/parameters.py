"""Every stage-specific value is a Parameter here, grouped and labelled for the console.

Stage files (params/<stage>.json) set the values; the build adds the artifact keys and the
deploy adds the artifact bucket. Parameters without a Default must be given by one of them,
so a stage can never silently inherit another stage's value."""

import re
from dataclasses import dataclass

from troposphere import And, Equals, Join, Not, Parameter, Ref, Template

from .catalog import ARTIFACTS, FUNCTIONS
from .naming import logical_id

# The Project parameter's default: the stack names' and the artifact bucket's prefix as well.
PROJECT = "items-api"

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)  # fmt: skip
# The runtimes build.py compiles bytecode for, each with its own CPython (pyenv or uv): a runtime
# added here makes the build need that interpreter.
PYTHON_RUNTIMES = ("python3.12", "python3.13")
# CodeDeploy's predefined Lambda configurations, CodeDeployDefault.Lambda<preference>.
DEPLOYMENT_PREFERENCES = ("AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute")

IS_PROD = "IsProd"  # condition: prod-only rules (no data trace, ...)
IN_VPC = "InVpc"  # condition: VpcSubnetIds is set, so the functions run in those subnets

# Who supplies a parameter's value when it has no Default.
FROM_STAGE_FILE = "stage file"
FROM_BUILD = "build"
FROM_DEPLOY = "deploy"

# The parameters whose change replaces a stateful resource (the table's KeySchema is create-only):
# the documented allow-list. tests/test_parameter_reach.py derives the real set from the
# template and CloudFormation's schemas and checks it equals this; `make plan` blocks on them.
REPLACING = frozenset({"PartitionKeyName", "SortKeyName"})
# Parameters whose edit would replace a stateful resource: the key names (the table) and the
# stage (API Gateway names its execution log group after it, templates/log_groups.py). The
# stack policy refuses those updates (tools/deploy/stack_policy.py).
REFUSED = REPLACING | {"Stage"}
# What a console edit (Update stack, current template, one value changed) does, appended to
# every parameter's Description by describe_edits.
EDIT_REFUSED = (
    "Console edit: refused (the stack policy denies replacing stored data; the update rolls "
    "back). To do it on purpose: make deploy ALLOW_REPLACE=1."
)
EDIT_REDEPLOYS = (
    "Console edit: takes effect in that stack update, which also deploys the API to the stage."
)
EDIT_AT_ONCE = "Console edit: takes effect in that stack update."

# Where the build puts each artifact (build.py's S3_PREFIX): `artifacts/<name>-<sha256>.zip`,
# under `<project>/dist/` when taskcat uploads the project (tools/deploy/taskcat.py).
ARTIFACT_PREFIX = "artifacts"
# The most items a list parameter may hold. CloudFormation cannot count a list's items (neither
# a parameter constraint nor a Rules function does), so the counts live in the template's
# Metadata under this key, where the build's params check (stage_params) enforces them; a
# console value beyond them is recorded whole or refused (templates/deployments.py).
MAX_ITEMS_KEY = "ParameterMaxItems"
# Lambda takes up to 16 subnets and 5 security groups (API_VpcConfig); these bounds keep the
# functions' settings within a version record (templates/deployments.py): three subnets cover
# three Availability Zones.
MAX_ITEMS = {"VpcSubnetIds": 3, "VpcSecurityGroupIds": 2}


def supplier(name: str) -> str | None:
    """Who sets parameter `name`: a stage file, the build or the deploy (None: not ours)."""
    if name in DEFINITIONS:
        return DEFINITIONS[name][2]
    if name in {code_key_parameter(a) for a in ARTIFACTS}:
        return FROM_BUILD
    return None


def code_key_parameter(artifact: str) -> str:
    """The name of the parameter that holds one artifact's S3 key."""
    return logical_id(artifact, "code", "key")


def code_key_stem(artifact: str) -> str:
    """What precedes the sha256 in an artifact's key (and occurs in it once)."""
    return f"{ARTIFACT_PREFIX}/{artifact}-"


@dataclass(frozen=True)
class Params:
    """The template's parameters, for the modules that Ref them; each field is its
    parameter's name in snake_case (`MemorySize` -> `memory_size`)."""

    stage: Parameter
    artifact_bucket: Parameter
    runtime: Parameter
    architecture: Parameter
    memory_size: Parameter
    timeout: Parameter
    log_level: Parameter
    log_retention_days: Parameter
    api_log_retention_days: Parameter
    partition_key_name: Parameter
    sort_key_name: Parameter
    billing_mode: Parameter
    table_read_capacity: Parameter
    table_write_capacity: Parameter
    throttling_rate_limit: Parameter
    throttling_burst_limit: Parameter
    route_prefix: Parameter
    cors_allow_origin: Parameter
    cors_allow_headers: Parameter
    cors_max_age: Parameter
    cors_allow_credentials: Parameter
    cache_ttl_seconds: Parameter
    cache_cluster_size: Parameter
    api_data_trace: Parameter
    async_retry_attempts: Parameter
    stream_max_retries: Parameter
    error_alarm_threshold: Parameter
    alarms_enabled: Parameter
    alarm_email: Parameter
    error_rate_alarm_percent: Parameter
    concurrency_alarm_threshold: Parameter
    api5xx_alarm_percent: Parameter
    api4xx_alarm_percent: Parameter
    api_latency_alarm_ms: Parameter
    iterator_age_alarm_ms: Parameter
    duration_alarm_threshold_ms: Parameter
    stream_max_record_age_seconds: Parameter
    api_logging_level: Parameter
    project: Parameter
    owner: Parameter
    cost_center: Parameter
    create_api_gateway_account_role: Parameter
    auth_type: Parameter
    api_quota_limit: Parameter
    api_quota_period: Parameter
    reserved_concurrency: Parameter
    snap_start: Parameter
    deployment_preference: Parameter
    table_deletion_protection: Parameter
    vpc_subnet_ids: Parameter
    vpc_security_group_ids: Parameter
    code_keys: dict[str, Parameter]  # artifact name -> the parameter holding its S3 key


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _number(description: str, low: int, high: int, unit: str) -> dict:
    return {
        "Type": "Number",
        "Description": description,
        "MinValue": low,
        "MaxValue": high,
        "ConstraintDescription": f"must be a whole number of {unit} from {low} to {high}.",
    }


def _choice(description: str, values: tuple, default: str | int | None = None) -> dict:
    kw = {
        "Type": "String" if isinstance(values[0], str) else "Number",
        "Description": description,
        "AllowedValues": list(values),
        "ConstraintDescription": "must be one of: " + ", ".join(str(v) for v in values) + ".",
    }
    if default is not None:
        kw["Default"] = default
    return kw


def _ids(description: str, prefix: str, most: int) -> dict:
    """An optional comma-separated list of at most `most` AWS ids (`subnet-...`); empty means
    none. CloudFormation checks the pattern on each item; the count is MAX_ITEMS's."""
    return {
        "Type": "CommaDelimitedList",
        "Default": "",
        "Description": f"{description} At most {most}.",
        "AllowedPattern": rf"^({prefix}-[0-9a-f]{{8,17}})?$",
        "ConstraintDescription": f"must be empty or at most {most} {prefix}-... ids separated by "
        "commas.",
    }


def _tag(description: str, default: str, longest: int = 256) -> dict:
    """A tag value (AWS allows 256 characters; `longest` when the value is used elsewhere)."""
    return {
        "Type": "String",
        "Default": default,
        "Description": f"{description} Tagged on every taggable resource.",
        "AllowedPattern": rf"^[A-Za-z0-9 _.:/=+@-]{{1,{longest}}}$",
        "ConstraintDescription": f"must be 1-{longest} letters, digits, spaces or _ . : / = + @ -.",
    }


_BOOL = ("false", "true")

# name -> (console group, label, supplier, Parameter properties)
DEFINITIONS: dict[str, tuple[str, str, str, dict]] = {
    "Stage": (
        "Stage",
        "Stage",
        FROM_STAGE_FILE,
        _choice(
            "Deployment stage. Names the API stage and is passed to the functions as STAGE.",
            ("dev", "test", "prod"),
        ),
    ),
    "ArtifactBucket": (
        "Artifacts",
        "Artifact bucket",
        FROM_DEPLOY,
        {
            "Type": "String",
            "Description": "S3 bucket holding the function and layer zips (make deploy fills it).",
            "AllowedPattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "ConstraintDescription": "must be an S3 bucket name: 3-63 lower-case letters, digits, "
            "dots or hyphens.",
        },
    ),
    "Project": (
        "Tags",
        "Project tag",
        FROM_STAGE_FILE,
        _tag(
            "Project the resources belong to, and the functions' metric namespace "
            "(<Project>-<Stage>).",
            PROJECT,
            longest=32,
        ),
    ),
    "Owner": (
        "Tags",
        "Owner tag",
        FROM_STAGE_FILE,
        _tag("Team or person answerable for the stack.", "unassigned"),
    ),
    "CostCenter": (
        "Tags",
        "Cost center tag",
        FROM_STAGE_FILE,
        _tag("Cost allocation key.", "unassigned"),
    ),
    "Runtime": (
        "Functions",
        "Python runtime",
        FROM_STAGE_FILE,
        _choice(
            "Lambda Python runtime of every function, among the runtimes the build compiles "
            "bytecode for: every zip holds the .pyc files of CPython "
            + " and ".join(r.removeprefix("python") for r in PYTHON_RUNTIMES)
            + ".",
            PYTHON_RUNTIMES,
            "python3.13",
        ),
    ),
    "Architecture": (
        "Functions",
        "CPU architecture",
        FROM_STAGE_FILE,
        _choice(
            "Lambda architecture. arm64 (Graviton) costs less per GB-second; the layer is pure "
            "Python and runs on both.",
            ("arm64", "x86_64"),
            "arm64",
        ),
    ),
    "MemorySize": (
        "Functions",
        "Memory (MB)",
        FROM_STAGE_FILE,
        _number("Memory of every function in MB; CPU grows with it.", 128, 10240, "MB"),
    ),
    "Timeout": (
        "Functions",
        "Timeout (s)",
        FROM_STAGE_FILE,
        _number(
            "Timeout of every function in seconds. API Gateway stops waiting after 29 s, so a "
            "longer timeout only lets the function finish after the client got a 504.",
            1,
            30,
            "seconds",
        ),
    ),
    "LogLevel": (
        "Functions",
        "Function log level",
        FROM_STAGE_FILE,
        _choice(
            "Level of the functions' JSON logs (LOG_LEVEL). INFO logs one line per request "
            "(route, status, duration); WARNING or ERROR keep only problems.",
            ("DEBUG", "INFO", "WARNING", "ERROR"),
            "INFO",
        ),
    ),
    "LogRetentionDays": (
        "Functions",
        "Log retention (days)",
        FROM_STAGE_FILE,
        _choice("Days CloudWatch keeps the function and API access logs.", LOG_RETENTION_DAYS),
    ),
    "ApiLogRetentionDays": (
        "API",
        "API access log retention (days)",
        FROM_STAGE_FILE,
        _choice(
            "Days CloudWatch keeps the API access logs.",
            LOG_RETENTION_DAYS,
            30,
        ),
    ),
    "PartitionKeyName": (
        "Table",
        "Partition key attribute",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "id",
            "Description": "Name of the table's partition key (type String). CHANGING IT "
            "REPLACES THE TABLE: a new, empty table takes over and the old one is retained "
            "(never deleted). Set it before the first deploy.",
            "AllowedPattern": r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$",
            "ConstraintDescription": "must be an attribute name: a letter or _ then up to 254 "
            "letters, digits, _ . or -.",
        },
    ),
    "SortKeyName": (
        "Table",
        "Sort key attribute (history mode)",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "",
            "Description": "Empty: one row per item. A name (e.g. timestamp): history mode, a "
            "Number sort key holding each version's time; updates add versions, deletes write "
            "tombstones. CHANGING IT REPLACES THE TABLE: a new, empty table takes over and the "
            "old one is retained (never deleted). Set it before the first deploy.",
            "AllowedPattern": r"^([A-Za-z_][A-Za-z0-9_.-]{0,254})?$",
            "ConstraintDescription": "must be empty or an attribute name: a letter or _ then up "
            "to 254 letters, digits, _ . or -.",
        },
    ),
    "BillingMode": (
        "Table",
        "Billing mode",
        FROM_STAGE_FILE,
        _choice(
            "PROVISIONED uses the read/write capacity below; PAY_PER_REQUEST (on-demand) "
            "ignores them. Switching is an in-place update (AWS allows one switch per 24 h).",
            ("PROVISIONED", "PAY_PER_REQUEST"),
            "PROVISIONED",
        ),
    ),
    "AsyncRetryAttempts": (
        "Functions",
        "Async retry attempts",
        FROM_STAGE_FILE,
        _choice(
            "Retries Lambda makes for an asynchronous invocation that fails (0-2).",
            (0, 1, 2),
            2,
        ),
    ),
    "StreamMaxRetries": (
        "Stream",
        "Stream consumer retries",
        FROM_STAGE_FILE,
        {
            **_number(
                "Times a failing stream batch is retried (halved on each error to isolate the "
                "bad record) before it goes to the failure queue.",
                0,
                10,
                "retries",
            ),
            "Default": 3,
        },
    ),
    "StreamMaxRecordAgeSeconds": (
        "Stream",
        "Stream record max age (s)",
        FROM_STAGE_FILE,
        {
            **_number(
                "Records older than this go to the failure queue instead of being retried, so "
                "one poison record cannot stall the stream for its 24 h retention.",
                60,
                86400,
                "seconds",
            ),
            "Default": 3600,
        },
    ),
    "AlarmsEnabled": (
        "Alarms",
        "Create the alarms",
        FROM_STAGE_FILE,
        _choice(
            "false creates no alarm at all (a quiet dev stage); the topic and dashboard stay.",
            _BOOL,
            "true",
        ),
    ),
    "AlarmEmail": (
        "Alarms",
        "E-mail for alarms (optional)",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "",
            "Description": "Empty: no subscription. An address: it is subscribed to the alarm "
            "topic (AWS e-mails a confirmation link first).",
            "AllowedPattern": r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$",
            "ConstraintDescription": "must be empty or an e-mail address.",
        },
    ),
    "ErrorRateAlarmPercent": (
        "Alarms",
        "Error rate that alarms (%)",
        FROM_STAGE_FILE,
        {
            **_number(
                "A function's errors per invocation over 5 minutes, in percent.", 1, 100, "percent"
            ),
            "Default": 5,
        },
    ),
    "ConcurrencyAlarmThreshold": (
        "Alarms",
        "Concurrent executions that alarm",
        FROM_STAGE_FILE,
        {
            **_number(
                "The stack's functions' concurrent executions together.",
                1,
                100000,
                "executions",
            ),
            "Default": 100,
        },
    ),
    "Api5xxAlarmPercent": (
        "Alarms",
        "API 5XX rate that alarms (%)",
        FROM_STAGE_FILE,
        {
            **_number(
                "Share of API requests answered 5XX over 5 minutes (503 THROTTLED aside: the "
                "throttled alarm watches those).",
                1,
                100,
                "percent",
            ),
            "Default": 1,
        },
    ),
    "Api4xxAlarmPercent": (
        "Alarms",
        "API 4XX rate that alarms (%)",
        FROM_STAGE_FILE,
        {
            **_number(
                "Share of API requests answered 4XX over 5 minutes (a rate, so traffic "
                "alone does not page anyone).",
                1,
                100,
                "percent",
            ),
            "Default": 10,
        },
    ),
    "ApiLatencyAlarmMs": (
        "Alarms",
        "API p99 latency that alarms (ms)",
        FROM_STAGE_FILE,
        {
            **_number("API Gateway p99 latency over 5 minutes.", 100, 30000, "milliseconds"),
            "Default": 3000,
        },
    ),
    "IteratorAgeAlarmMs": (
        "Alarms",
        "Stream iterator age that alarms (ms)",
        FROM_STAGE_FILE,
        {
            **_number(
                "Age of the oldest stream record the consumer has not processed.",
                1000,
                86400000,
                "milliseconds",
            ),
            "Default": 60000,
        },
    ),
    "ErrorAlarmThreshold": (
        "Alarms",
        "Errors per 5 minutes that alarm",
        FROM_STAGE_FILE,
        _number(
            "A function's errors in 5 minutes at which its error alarm fires.", 1, 10000, "errors"
        ),
    ),
    "DurationAlarmThresholdMs": (
        "Alarms",
        "p99 duration that alarms (ms)",
        FROM_STAGE_FILE,
        _number(
            "A function's p99 duration over 5 minutes above which its duration alarm fires.",
            100,
            900000,
            "milliseconds",
        ),
    ),
    "TableReadCapacity": (
        "Table",
        "Read capacity units",
        FROM_STAGE_FILE,
        _number(
            "Read capacity units when BillingMode is PROVISIONED. Changing it never replaces "
            "the table.",
            1,
            40000,
            "read capacity units",
        ),
    ),
    "TableWriteCapacity": (
        "Table",
        "Write capacity units",
        FROM_STAGE_FILE,
        _number(
            "Write capacity units when BillingMode is PROVISIONED. Changing it never replaces "
            "the table.",
            1,
            40000,
            "write capacity units",
        ),
    ),
    "ThrottlingRateLimit": (
        "API",
        "Throttling rate (req/s)",
        FROM_STAGE_FILE,
        _number(
            "Steady-state requests per second the stage accepts before answering 429.",
            1,
            10000,
            "requests per second",
        ),
    ),
    "ThrottlingBurstLimit": (
        "API",
        "Throttling burst",
        FROM_STAGE_FILE,
        _number(
            "Requests the stage accepts at once above the rate before answering 429.",
            1,
            10000,
            "requests",
        ),
    ),
    "RoutePrefix": (
        "API",
        "Route prefix",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "items",
            "Description": "Collection path: /<prefix> and /<prefix>/{id}.",
            "AllowedPattern": r"^[a-z][a-z0-9-]{0,31}$",
            "ConstraintDescription": "must be 1-32 lower-case letters, digits or hyphens, "
            "starting with a letter.",
        },
    ),
    "CorsAllowOrigin": (
        "API",
        "CORS allowed origin",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "*",
            "Description": "Access-Control-Allow-Origin: * (any site) or one origin such as "
            "https://example.com. Never * with credentials (the stack refuses it).",
            "AllowedPattern": r"^(\*|https?://[A-Za-z0-9.-]{1,50}(:[0-9]{1,5})?)$",
            "ConstraintDescription": "must be * or an origin: http(s)://host[:port], no path, a "
            "host of at most 50 characters.",
        },
    ),
    "CorsAllowHeaders": (
        "API",
        "CORS allowed headers",
        FROM_STAGE_FILE,
        {
            "Type": "String",
            "Default": "X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token",
            "Description": "Headers the preflight allows besides the API's own (Content-Type, "
            "If-Match, Idempotency-Key, always allowed): comma-separated header names.",
            "AllowedPattern": r"^[A-Za-z0-9-]+(,[A-Za-z0-9-]+)*$",
            "ConstraintDescription": "must be header names separated by commas, no spaces.",
        },
    ),
    "CorsMaxAge": (
        "API",
        "CORS preflight max age (s)",
        FROM_STAGE_FILE,
        {
            **_number("Seconds a browser may cache a preflight answer.", 0, 86400, "seconds"),
            "Default": 300,
        },
    ),
    "CorsAllowCredentials": (
        "API",
        "CORS allow credentials",
        FROM_STAGE_FILE,
        _choice(
            "true sends Access-Control-Allow-Credentials: true (cookies, auth headers). Only "
            "with a single origin: the stack refuses true with origin *.",
            _BOOL,
            "false",
        ),
    ),
    "CacheTtlSeconds": (
        "API",
        "Cache TTL (s), 0 = no cache",
        FROM_STAGE_FILE,
        {
            **_number(
                "API Gateway cache for GET by id, keyed on {id}, encrypted. 0 turns the cache "
                "cluster off (it is billed per hour while on). Reads may be this stale after a "
                "write.",
                0,
                3600,
                "seconds",
            ),
            "Default": 0,
        },
    ),
    "CacheClusterSize": (
        "API",
        "Cache size (GB)",
        FROM_STAGE_FILE,
        _choice(
            "Size of the API cache cluster when the TTL is above 0.",
            ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"),
            "0.5",
        ),
    ),
    "ApiDataTrace": (
        "API",
        "Log full requests and responses",
        FROM_STAGE_FILE,
        _choice(
            "API Gateway data trace: logs request and response bodies. Ignored in prod (never "
            "on there: bodies may hold personal data).",
            _BOOL,
            "false",
        ),
    ),
    "ApiLoggingLevel": (
        "API",
        "Execution log level",
        FROM_STAGE_FILE,
        _choice(
            "API Gateway execution logging. Needs the account's CloudWatch role (see below).",
            ("OFF", "ERROR", "INFO"),
            "ERROR",
        ),
    ),
    "CreateApiGatewayAccountRole": (
        "API",
        "Create the account's API Gateway logging role",
        FROM_STAGE_FILE,
        _choice(
            "API Gateway writes access and execution logs only once the account has a CloudWatch "
            "role (one per account and region). true: this stack creates it and sets it; both are "
            "RETAINED when the stack is deleted, because other APIs in the account rely on it. "
            "Set true in one stack per account and region, false elsewhere.",
            _BOOL,
            "false",
        ),
    ),
    "AuthType": (
        "Access",
        "API access control",
        FROM_STAGE_FILE,
        _choice(
            "Who may call the API. NONE: anyone (dev only; the stack refuses NONE in prod). "
            "API_KEY: callers send an x-api-key header; the key (ID in the ApiKeyId output, its "
            "value only from API Gateway) is limited by a usage plan with the stage's throttling "
            "and the quota below. AWS_IAM: callers sign requests with SigV4 and need "
            "execute-api:Invoke.",
            ("NONE", "API_KEY", "AWS_IAM"),
            "API_KEY",
        ),
    ),
    "ApiQuotaLimit": (
        "Access",
        "API key quota (requests)",
        FROM_STAGE_FILE,
        {
            **_number(
                "Requests the API key may make per quota period (AuthType API_KEY).",
                1,
                1000000000,
                "requests",
            ),
            "Default": 100000,
        },
    ),
    "ApiQuotaPeriod": (
        "Access",
        "API key quota period",
        FROM_STAGE_FILE,
        _choice("The period the quota counts over.", ("DAY", "WEEK", "MONTH"), "DAY"),
    ),
    "ReservedConcurrency": (
        "Functions",
        "Reserved concurrency per function",
        FROM_STAGE_FILE,
        {
            **_number(
                "Concurrent executions reserved for (and capping) each function, so one route "
                "cannot starve the others. 0: no reservation (the functions share the account's "
                "pool; new accounts must use 0). The account keeps at least 100 unreserved, so "
                f"{len(FUNCTIONS)} functions x this value must fit in the account's limit minus "
                "100.",
                0,
                100,
                "executions",
            ),
            "Default": 0,
        },
    ),
    "SnapStart": (
        "Functions",
        "SnapStart",
        FROM_STAGE_FILE,
        _choice(
            "PublishedVersions: Lambda initializes each function when its version is published "
            "and resumes new execution environments from that snapshot, cutting cold starts. It "
            "costs a snapshot cache per published version and a charge per restore (Python), "
            "and cannot be combined with provisioned concurrency, EFS or over 512 MB of "
            "ephemeral storage. None: every cold start initializes.",
            ("None", "PublishedVersions"),
            "None",
        ),
    ),
    "DeploymentPreference": (
        "Functions",
        "How new function code reaches traffic",
        FROM_STAGE_FILE,
        _choice(
            "How CodeDeploy moves each function's live alias to newly deployed code or "
            "configuration. AllAtOnce: at once. Canary10Percent5Minutes: 10% of requests for 5 "
            "minutes, then all. Linear10PercentEvery1Minute: 10% more every minute. With "
            "AlarmsEnabled true, the function's error or duration alarm stops the shift and "
            "rolls it back to the previous version.",
            DEPLOYMENT_PREFERENCES,
            "AllAtOnce",
        ),
    ),
    "TableDeletionProtection": (
        "Table",
        "Table deletion protection",
        FROM_STAGE_FILE,
        _choice(
            "true: DynamoDB refuses to delete the table, whoever asks. Always true in prod (the "
            "stack refuses false there). The table is retained on stack deletion either way.",
            _BOOL,
            "true",
        ),
    ),
    "VpcSubnetIds": (
        "Network",
        "VPC subnets (optional)",
        FROM_STAGE_FILE,
        _ids(
            "Empty: the functions run outside any VPC (they only call AWS APIs). Subnet ids: "
            "every function runs in them, with the security groups below; the subnets then need "
            "a route to DynamoDB, S3, SQS and X-Ray (NAT or VPC endpoints).",
            "subnet",
            MAX_ITEMS["VpcSubnetIds"],
        ),
    ),
    "VpcSecurityGroupIds": (
        "Network",
        "VPC security groups (optional)",
        FROM_STAGE_FILE,
        _ids(
            "Security groups of the functions when VpcSubnetIds is set (both or neither).",
            "sg",
            MAX_ITEMS["VpcSecurityGroupIds"],
        ),
    ),
}


def add(t: Template) -> Params:
    """Add the parameters and their console grouping; return them for Ref."""
    definitions = dict(DEFINITIONS)
    for artifact in ARTIFACTS:
        definitions[code_key_parameter(artifact)] = (
            "Artifacts",
            f"S3 key of {artifact}.zip",
            FROM_BUILD,
            {
                "Type": "String",
                "Description": f"S3 key of the {artifact} zip in the artifact bucket (the build "
                "names it by content hash, so new code gets a new key).",
                # Exactly what the build (and taskcat, under <project>/dist/) names: the
                # sha256 alone then says which code this is (templates/deployments.py).
                "AllowedPattern": rf"^([A-Za-z0-9_.-]{{1,32}}/dist/)?"
                rf"{code_key_stem(artifact)}[0-9a-f]{{64}}\.zip$",
                "ConstraintDescription": f"must be the build's key, {code_key_stem(artifact)}"
                "<sha256>.zip (under <project>/dist/ when taskcat uploads it).",
            },
        )
    made = {
        name: t.add_parameter(Parameter(name, **props))
        for name, (_, _, _, props) in definitions.items()
    }
    _add_interface(t, definitions)
    t.add_condition(IS_PROD, Equals(Ref(made["Stage"]), "prod"))
    t.add_condition(IN_VPC, Not(Equals(Join("", Ref(made["VpcSubnetIds"])), "")))
    return Params(
        **{_snake(name): made[name] for name in DEFINITIONS},
        code_keys={a: made[code_key_parameter(a)] for a in ARTIFACTS},
    )


def describe_edits(t: Template, redeploying: set[str]) -> None:
    """End every parameter's Description with what a console edit of it does; `redeploying`
    are the parameters the API's deployment carries (templates/api_deployment.py)."""
    for name, parameter in t.parameters.items():
        if name in REFUSED:
            effect = EDIT_REFUSED
        elif name in redeploying:
            effect = EDIT_REDEPLOYS
        else:
            effect = EDIT_AT_ONCE
        parameter.Description = f"{parameter.Description} {effect}"


def refuse(t: Template, name: str, *together: tuple[Parameter, str], why: str) -> None:
    """A Rules assertion: these parameter values may not all hold at once. CloudFormation
    evaluates it on every create and update (console edits included); the build's params check
    (stage_params.broken_rules) gives the same verdict before any AWS call."""
    combination = And(*(Equals(Ref(p), v) for p, v in together))
    t.add_rule(name, {"Assertions": [{"Assert": Not(combination).to_dict(),
                                      "AssertDescription": why}]})  # fmt: skip


def _add_interface(t: Template, definitions: dict) -> None:
    groups: dict[str, list[str]] = {}
    for name, (group, _, _, _) in definitions.items():
        groups.setdefault(group, []).append(name)
    t.set_metadata(
        {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {"Label": {"default": g}, "Parameters": names} for g, names in groups.items()
                ],
                "ParameterLabels": {
                    name: {"default": label} for name, (_, label, _, _) in definitions.items()
                },
            },
            MAX_ITEMS_KEY: dict(MAX_ITEMS),
        }
    )
