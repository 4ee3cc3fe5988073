"""Explicit log groups, so retention and encryption are set and the groups outlive a deleted
stack.

CloudFormation names them (`<stack>-<LogicalId>-<random>`): they are retained, and a fixed
name would make the next stack of the same name fail with "log group already exists" after a
`make destroy`. Each function writes to its own group through `LoggingConfig.LogGroup`, so the
groups come before the functions, and Lambda never creates a `/aws/lambda/...` group itself (it
would have no retention, no key and be outside the stack).

API Gateway's execution log group is the exception: API Gateway picks its name
(`API-Gateway-Execution-Logs_<rest api id>/<stage>`) and creates it on first write, unencrypted
and never expiring, unless it already exists. So the stack creates it, before the Stage. Its
name carries the REST API's id, new with every stack, so it never collides either."""

from dataclasses import dataclass
from typing import ClassVar

from troposphere import FindInMap, Ref, Sub, Template, apigateway, awslambda, kms, logs
from troposphere.validators.logs import RETENTION_DAYS

from .catalog import FUNCTIONS
from .data import RETAIN
from .naming import logical_id
from .parameters import Param, choice
from .stage import STAGE


def _retention(name: str, **row: str | int) -> Param:
    """Days CloudWatch keeps a log group: one of the values CloudWatch Logs allows."""
    return choice(name, allowed=tuple(RETENTION_DAYS), **row)


LOG_RETENTION_DAYS = _retention(
    "LogRetentionDays",
    group="Functions",
    label="Log retention (days)",
    description="Days CloudWatch keeps the function and API access logs.",
)
API_LOG_RETENTION_DAYS = _retention(
    "ApiLogRetentionDays",
    group="API",
    label="API access log retention (days)",
    description="Days CloudWatch keeps the API access logs.",
    default=30,
)
LOG_LEVEL = choice(
    "LogLevel",
    group="Functions",
    label="Function log level",
    description="Lowest level of the functions' own log records that Lambda keeps (its advanced "
    "logging controls: LoggingConfig ApplicationLogLevel, WARNING as WARN; Powertools Logger "
    "follows it through AWS_LAMBDA_LOG_LEVEL). INFO logs one line per request (route, status, "
    "duration); WARNING or ERROR keep only problems.",
    allowed=("DEBUG", "INFO", "WARNING", "ERROR"),
    default="INFO",
)
SYSTEM_LOG_LEVEL = choice(
    "SystemLogLevel",
    group="Functions",
    label="Lambda platform log level",
    description="Lowest level of Lambda's own log records that it keeps (LoggingConfig "
    "SystemLogLevel): INFO keeps each invocation's start and report (duration, memory); WARN "
    "only problems.",
    allowed=("DEBUG", "INFO", "WARN"),
    default="INFO",
)
# LogLevel's values as Lambda's ApplicationLogLevel names them.
APPLICATION_LOG_LEVELS = "ApplicationLogLevels"
LAMBDA_LEVEL = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}


class LoggingConfig(awslambda.LoggingConfig):
    """troposphere 4.11.1's LoggingConfig lacks LogFormat, which AWS::Lambda::Function's
    LoggingConfig has (Text or JSON; the log levels need JSON)."""

    props: ClassVar[dict] = {**awslambda.LoggingConfig.props, "LogFormat": (str, False)}


def logging_config(group: logs.LogGroup) -> LoggingConfig:
    """JSON logs into the stack's own `group` (Lambda would otherwise create /aws/lambda/<name>),
    at the levels the parameters set, so an operator changes them from the console."""
    return LoggingConfig(
        LogGroup=Ref(group),
        LogFormat="JSON",
        ApplicationLogLevel=FindInMap(APPLICATION_LOG_LEVELS, LOG_LEVEL.ref(), "Level"),
        SystemLogLevel=SYSTEM_LOG_LEVEL.ref(),
    )


PARAMETERS = (LOG_RETENTION_DAYS, API_LOG_RETENTION_DAYS, LOG_LEVEL, SYSTEM_LOG_LEVEL)


@dataclass(frozen=True)
class LogGroups:
    functions: dict[str, logs.LogGroup]  # function name -> its log group
    api_access: logs.LogGroup
    key: kms.Key  # the telemetry key every group is encrypted with


def log_group(t: Template, name: str, retention: Param, key: kms.Key, **named) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            logical_id(name, "log", "group"),
            **RETAIN,
            **named,
            RetentionInDays=retention.ref(),
            KmsKeyId=key.get_att("Arn"),
        )
    )


def api_execution(t: Template, groups: LogGroups, rest_api: apigateway.RestApi) -> logs.LogGroup:
    """The group API Gateway's execution logging writes to, with the API's log retention."""
    return log_group(
        t,
        "api_execution",
        API_LOG_RETENTION_DAYS,
        groups.key,
        LogGroupName=Sub(f"API-Gateway-Execution-Logs_${{{rest_api.title}}}/${{{STAGE.name}}}"),
    )


def add(t: Template, key: kms.Key) -> LogGroups:
    t.add_mapping(APPLICATION_LOG_LEVELS, {k: {"Level": v} for k, v in LAMBDA_LEVEL.items()})
    return LogGroups(
        functions={f.name: log_group(t, f.name, LOG_RETENTION_DAYS, key) for f in FUNCTIONS},
        api_access=log_group(t, "api_access", API_LOG_RETENTION_DAYS, key),
        key=key,
    )
