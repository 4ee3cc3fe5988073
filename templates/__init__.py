"""items-api's CloudFormation template: a composition root, one `add` per concern."""

from troposphere import Template

from . import (
    api,
    api_stage,
    catalog,
    cors,
    dashboard,
    data,
    deployments,
    events,
    functions,
    log_groups,
    monitoring,
    network,
    outputs,
    parameters,
    permissions,
    security,
    stage,
    tags,
)

DESCRIPTION = (
    "items-api: API Gateway REST API -> one Python Lambda per route -> DynamoDB. "
    "One template for every stage; the stage is a parameter file."
)
# The template's parameter order (the console's and docs/parameters.md's too), as it was when
# one module declared them all; a parameter not named here follows them in declaration order.
ORDER = ("Stage", "ArtifactBucket", "Project", "Owner", "CostCenter", "Runtime", "Architecture",
         "MemorySize", "Timeout", "LogLevel", "LogRetentionDays", "ApiLogRetentionDays",
         "PartitionKeyName", "SortKeyName", "BillingMode", "AsyncRetryAttempts",
         "StreamMaxRetries", "StreamMaxRecordAgeSeconds", "AlarmsEnabled", "AlarmEmail",
         "ErrorRateAlarmPercent", "ConcurrencyAlarmThreshold", "Api5xxAlarmPercent",
         "Api4xxAlarmPercent", "ApiLatencyAlarmMs", "IteratorAgeAlarmMs", "ErrorAlarmThreshold",
         "DurationAlarmThresholdMs", "TableReadCapacity", "TableWriteCapacity",
         "ThrottlingRateLimit", "ThrottlingBurstLimit", "RoutePrefix", "CorsAllowOrigin",
         "CorsAllowHeaders", "CorsMaxAge", "CorsAllowCredentials", "CacheTtlSeconds",
         "CacheClusterSize", "ApiDataTrace", "ApiLoggingLevel", "CreateApiGatewayAccountRole",
         "AuthType", "ApiQuotaLimit", "ApiQuotaPeriod", "ReservedConcurrency", "SnapStart",
         "DeploymentPreference", "TableDeletionProtection", "VpcSubnetIds",
         "VpcSecurityGroupIds")  # fmt: skip
# Every module's parameters (parameters.supplier reads them too).
PARAMETERS = parameters.in_order(
    ORDER,
    stage.PARAMETERS,
    tags.PARAMETERS,
    network.PARAMETERS,
    data.PARAMETERS,
    log_groups.PARAMETERS,
    functions.PARAMETERS,
    monitoring.PARAMETERS,
    deployments.PARAMETERS,
    events.PARAMETERS,
    catalog.PARAMETERS,
    cors.PARAMETERS,
    api.PARAMETERS,
    api_stage.PARAMETERS,
)


def build_template() -> Template:
    """One `add` per concern; each returns what the later ones use."""
    t = tags.TaggedTemplate(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    parameters.add(t, PARAMETERS)
    stage.add(t)
    network.add(t)
    roles_and_keys = security.add(t)
    stores = data.add(t, roles_and_keys.data_key)
    logs = log_groups.add(t, roles_and_keys.telemetry_key)
    role_policies = permissions.add(t, stores, roles_and_keys, logs)
    fns = functions.add(t, stores, roles_and_keys, role_policies, logs)
    alarms = monitoring.add(t, stores, roles_and_keys, fns)
    board = dashboard.add(t, fns)
    versions_and_aliases = deployments.add(t, fns, alarms)
    events.add(t, stores, versions_and_aliases.aliases)
    rest_api = api.add(t, versions_and_aliases.aliases, logs)
    served_by = api_stage.add(t, rest_api, logs)
    parameters.describe_edits(t, rest_api.redeploying)
    outputs.add(t, stores, roles_and_keys, fns, rest_api, served_by, alarms, board)
    return t
