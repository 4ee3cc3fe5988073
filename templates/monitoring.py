"""Alerting and the dashboard, generated from the same rows the rest of the template uses: no
alarm or widget is written out by hand per function.

Every alarm sends to the stack's encrypted SNS topic when it fires and when it clears, treats
missing data (no traffic) as fine, and exists only while AlarmsEnabled is true, so a quiet dev
stage has none and nothing refers to one. Names read `<stage>-<stack>-<resource>-<what>`.

A function's `errors` and `duration` alarms watch all of its invocations (operations). Its
`version-errors` and `version-duration` alarms, the same two rows, watch only the version its
`live` alias runs or is moving to: Lambda's metrics of invocations through an alias carry the
version that ran (dimensions FunctionName, Resource `<function>:<alias>` and ExecutedVersion,
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html), and the
ExecutedVersion is the current Version resource's number, which a new version replaces. So
during a canary they judge the new version alone, and CodeDeploy rolls back on them
(templates/deployments.py adds them, after the versions they name).

A 503 THROTTLED answer (DynamoDB or S3 throttled beyond the handlers' retries) pages as
`api-throttled`, from the handlers' own RequestsThrottled metric, and the `5xx-rate` alarm leaves
those answers out: a throttle is a matter of capacity, not a fault of the code."""

import json
from dataclasses import dataclass, field

from troposphere import Equals, GetAtt, Not, Ref, Sub, Template, cloudwatch, sns

from tools.intrinsics import sub_text

from .catalog import FUNCTIONS, Access, FunctionSpec
from .data import Data
from .events import STREAM_CONSUMER
from .functions import Functions
from .naming import logical_id, slug
from .parameters import Params
from .security import Security
from .suppressions import suppress

PERIOD = 300  # seconds: every alarm looks at 5 minutes
MAX_ALARM_METRICS = 10  # CloudWatch's limit on the metrics of one alarm, the expression included
ALARMS_ON = "AlarmsOn"
EMAIL_SET = "AlarmEmailSet"
# DynamoDB operations the functions call (TransactWriteItems: history-mode writes).
TABLE_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query",
                    "TransactWriteItems")  # fmt: skip
# One per 503 THROTTLED answer, as items_common.observability publishes it (a test compares).
THROTTLED_METRIC = "RequestsThrottled"
THROTTLED_DIMENSIONS = {"scope": "api"}


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches (`resource`), what is wrong (`what`), and its metric(s)."""

    resource: str
    what: str
    description: str
    comparison: str
    threshold: object  # a Ref to a threshold parameter, or a number
    metric: dict = field(default_factory=dict)  # one metric's properties, or Metrics=[...]


@dataclass(frozen=True)
class Monitoring:
    topic: sns.Topic
    dashboard: cloudwatch.Dashboard
    alarms: list[cloudwatch.Alarm]
    by_function: dict[str, dict[str, cloudwatch.Alarm]]  # function name -> what -> its alarm


def _dims(**dimensions: object) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions.items()]


def _query(query_id: str, namespace: str, name: str, stat: str, **dimensions: object):
    """One metric of a metric-math alarm (not itself returned)."""
    return cloudwatch.MetricDataQuery(
        Id=query_id,
        ReturnData=False,
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(
                Namespace=namespace, MetricName=name, Dimensions=_dims(**dimensions)
            ),
            Period=PERIOD,
            Stat=stat,
        ),
    )


def _math(expression: str, label: str, *queries) -> dict:
    """Metric math: the queries, and the expression the alarm compares."""
    result = cloudwatch.MetricDataQuery(Id="result", Expression=expression, Label=label,
                                        ReturnData=True)  # fmt: skip
    return {"Metrics": [*queries, result]}


def metrics_namespace(functions: Functions) -> Sub:
    """The POWERTOOLS_METRICS_NAMESPACE the functions are given (one for all), read off their
    environment: the alarms and the dashboard watch where the handlers publish, by construction."""
    given = [
        f.Environment.Variables["POWERTOOLS_METRICS_NAMESPACE"] for f in functions.by_name.values()
    ]
    if len({json.dumps(n.to_dict(), sort_keys=True) for n in given}) != 1:
        raise ValueError("the functions publish metrics in more than one namespace")
    return given[0]


def _judged(
    name: str, dimensions: list, params: Params, prefix: str = "", whose: str = ""
) -> tuple[AlarmSpec, AlarmSpec]:
    """A function's errors and p99 duration alarms over these Lambda metric dimensions."""
    metric = {"Namespace": "AWS/Lambda", "Dimensions": dimensions}
    return (
        AlarmSpec(name, f"{prefix}errors",
                  f"errors{whose} at or above the stage's threshold in 5 minutes",
                  "GreaterThanOrEqualToThreshold", Ref(params.error_alarm_threshold),
                  {**metric, "MetricName": "Errors", "Statistic": "Sum"}),
        AlarmSpec(name, f"{prefix}duration", f"p99 duration{whose} above the stage's threshold",
                  "GreaterThanThreshold", Ref(params.duration_alarm_threshold_ms),
                  {**metric, "MetricName": "Duration", "ExtendedStatistic": "p99"}),
    )  # fmt: skip


def function_alarms(spec: FunctionSpec, fn: Ref, params: Params) -> list[AlarmSpec]:
    """Each function, all its invocations: errors, error rate, throttles, p99 duration."""
    lambda_metric = {"Namespace": "AWS/Lambda", "Dimensions": _dims(FunctionName=fn)}
    name = slug(spec.name)
    errors, duration = _judged(name, lambda_metric["Dimensions"], params)
    return [
        errors,
        AlarmSpec(name, "error-rate", "errors per invocation above the threshold (percent)",
                  "GreaterThanThreshold", Ref(params.error_rate_alarm_percent),
                  _math("IF(invocations > 0, 100 * errors / invocations, 0)", "error rate %",
                        _query("errors", "AWS/Lambda", "Errors", "Sum", FunctionName=fn),
                        _query("invocations", "AWS/Lambda", "Invocations", "Sum",
                               FunctionName=fn))),
        AlarmSpec(name, "throttles", "invocations throttled (concurrency exhausted)",
                  "GreaterThanThreshold", 0,
                  {**lambda_metric, "MetricName": "Throttles", "Statistic": "Sum"}),
        duration,
    ]  # fmt: skip


def version_alarms(
    spec: FunctionSpec, fn: Ref, alias: str, version: GetAtt, params: Params
) -> list[AlarmSpec]:
    """The function's errors and p99 duration of one version invoked through `alias` (the
    rollback triggers of its deployment group): `version` is that Version's GetAtt Version."""
    dimensions = _dims(
        FunctionName=fn, Resource=Sub(f"${{{fn.data['Ref']}}}:{alias}"), ExecutedVersion=version
    )
    return list(_judged(slug(spec.name), dimensions, params, "version-",
                        f" of the version `{alias}` runs or is moving to"))  # fmt: skip


def stack_alarms(params: Params, data: Data, functions: Functions) -> list[AlarmSpec]:
    """The stack as a whole: concurrency, the API, the table, the stream."""
    api = {"ApiName": Sub("${AWS::StackName}"), "Stage": Ref(params.stage)}
    namespace = metrics_namespace(functions)
    table = data.table.ref()
    consumer = Ref(functions.by_name[STREAM_CONSUMER])
    # A metric-math alarm takes at most MAX_ALARM_METRICS metrics in all: the sum covers the
    # functions that reach the data (health and openapi answer from memory, in milliseconds).
    working = [f for f in FUNCTIONS if f.access != Access() or f.history_access]
    if len(working) >= MAX_ALARM_METRICS:
        raise ValueError(f"the concurrency alarm can sum {MAX_ALARM_METRICS - 1} functions")
    concurrency = [
        _query(f"c{i}", "AWS/Lambda", "ConcurrentExecutions", "Maximum",
               FunctionName=Ref(functions.by_name[f.name]))
        for i, f in enumerate(working)
    ]  # fmt: skip
    system_errors = [
        _query(f"e{i}", "AWS/DynamoDB", "SystemErrors", "Sum", TableName=table, Operation=op)
        for i, op in enumerate(TABLE_OPERATIONS)
    ]
    return [
        AlarmSpec("functions", "concurrency", "concurrent executions of the data functions",
                  "GreaterThanThreshold", Ref(params.concurrency_alarm_threshold),
                  _math(f"SUM([{','.join(q.Id for q in concurrency)}])", "concurrent executions",
                        *concurrency)),
        # Throttled answers are 5XX too: the rate leaves them out (FILL: no throttle, no data).
        AlarmSpec("api", "5xx-rate", "share of requests answered 5XX, 503 THROTTLED left out "
                  "(percent): a fault of the code or of a service, not of capacity",
                  "GreaterThanThreshold", Ref(params.api5xx_alarm_percent),
                  _math("IF(requests > 0, 100 * (errors - FILL(throttled, 0)) / requests, 0)",
                        "5XX % (not throttled)",
                        _query("errors", "AWS/ApiGateway", "5XXError", "Sum", **api),
                        _query("throttled", namespace, THROTTLED_METRIC, "Sum",
                               **THROTTLED_DIMENSIONS),
                        _query("requests", "AWS/ApiGateway", "Count", "Sum", **api))),
        AlarmSpec("api", "throttled", "requests answered 503 THROTTLED with Retry-After: "
                  "DynamoDB or S3 throttled beyond the retries (capacity or contention, not a "
                  "code fault). Check the table's consumed capacity against its provisioned or "
                  "on-demand limits (table and account), hot keys (one item read or written very "
                  "often) and S3 SlowDown on the bucket",
                  "GreaterThanThreshold", 0,
                  {"Namespace": namespace, "MetricName": THROTTLED_METRIC, "Statistic": "Sum",
                   "Dimensions": _dims(**THROTTLED_DIMENSIONS)}),
        AlarmSpec("api", "4xx-rate", "share of requests answered 4XX (percent)",
                  "GreaterThanThreshold", Ref(params.api4xx_alarm_percent),
                  _math("100 * rate", "4XX %",
                        _query("rate", "AWS/ApiGateway", "4XXError", "Average", **api))),
        AlarmSpec("api", "latency", "p99 latency above the threshold", "GreaterThanThreshold",
                  Ref(params.api_latency_alarm_ms),
                  {"Namespace": "AWS/ApiGateway", "MetricName": "Latency",
                   "ExtendedStatistic": "p99", "Dimensions": _dims(**api)}),
        AlarmSpec("table", "throttles", "read or write requests throttled",
                  "GreaterThanThreshold", 0,
                  _math("reads + writes", "throttle events",
                        _query("reads", "AWS/DynamoDB", "ReadThrottleEvents", "Sum",
                               TableName=table),
                        _query("writes", "AWS/DynamoDB", "WriteThrottleEvents", "Sum",
                               TableName=table))),
        AlarmSpec("table", "system-errors", "DynamoDB answered with a server error",
                  "GreaterThanThreshold", 0,
                  _math(f"SUM([{','.join(q.Id for q in system_errors)}])", "system errors",
                        *system_errors)),
        AlarmSpec("stream", "iterator-age", "the audit consumer falls behind the stream",
                  "GreaterThanThreshold", Ref(params.iterator_age_alarm_ms),
                  {"Namespace": "AWS/Lambda", "MetricName": "IteratorAge",
                   "Statistic": "Maximum", "Dimensions": _dims(FunctionName=consumer)}),
        AlarmSpec("failures", "queued", "stream batches or async events parked in the failure "
                  "queue",
                  "GreaterThanThreshold", 0,
                  {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
                   "Statistic": "Maximum",
                   "Dimensions": _dims(QueueName=data.failure_queue.get_att("QueueName"))}),
    ]  # fmt: skip


def add_alarms(t: Template, specs: list[AlarmSpec], topic: sns.Topic) -> list[cloudwatch.Alarm]:
    """Alarms of these rows (for rows whose metrics name resources added later than add)."""
    return [_alarm(t, spec, topic) for spec in specs]


def _alarm(t: Template, spec: AlarmSpec, topic: sns.Topic) -> cloudwatch.Alarm:
    single = "Metrics" not in spec.metric
    return t.add_resource(
        cloudwatch.Alarm(
            logical_id(spec.resource, spec.what, "alarm"),
            Condition=ALARMS_ON,
            AlarmName=Sub(f"${{Stage}}-${{AWS::StackName}}-{spec.resource}-{spec.what}"),
            AlarmDescription=Sub(
                f"${{Stage}} ${{AWS::StackName}} {spec.resource}: {spec.description}"
            ),
            ComparisonOperator=spec.comparison,
            Threshold=spec.threshold,
            EvaluationPeriods=1,
            TreatMissingData="notBreaching",
            AlarmActions=[Ref(topic)],
            OKActions=[Ref(topic)],
            **({"Period": PERIOD} if single else {}),
            **spec.metric,
        )
    )


def dashboard_body(functions: Functions) -> Sub:
    """One dashboard: the functions, the API, the table, the stream. Names are Sub variables
    (`${GetItemFunction}` is that function's name), filled in by CloudFormation; the handlers'
    metrics are in their namespace's Sub text (`${Project}-${Stage}`), filled in likewise."""

    def name(function: str) -> str:
        return f"${{{functions.by_name[function].title}}}"

    names = [name(f.name) for f in FUNCTIONS]
    namespace = sub_text(metrics_namespace(functions))  # its text, in this Sub
    region = "${AWS::Region}"
    api = ["ApiName", "${AWS::StackName}", "Stage", "${Stage}"]
    throttled = [v for pair in THROTTLED_DIMENSIONS.items() for v in pair]

    def widget(title: str, metrics: list, stat: str = "Sum") -> dict:
        return {"type": "metric", "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat,
                               "period": PERIOD, "metrics": metrics}}  # fmt: skip

    def per_function(metric: str) -> list:
        return [["AWS/Lambda", metric, "FunctionName", n] for n in names]

    widgets = [
        widget("Invocations per function", per_function("Invocations")),
        widget("Errors per function", per_function("Errors")),
        widget("Duration p99 per function (ms)", per_function("Duration"), "p99"),
        widget("API requests, 4XX, 5XX, 503 THROTTLED",
               [*(["AWS/ApiGateway", m, *api] for m in ("Count", "4XXError", "5XXError")),
                [namespace, THROTTLED_METRIC, *throttled]]),
        widget("API latency p99 (ms)", [["AWS/ApiGateway", "Latency", *api]], "p99"),
        widget("Table consumed capacity and throttles",
               [["AWS/DynamoDB", m, "TableName", "${ItemsTable}"]
                for m in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits",
                          "ReadThrottleEvents", "WriteThrottleEvents")]),
        widget("Items created, updated, deleted",
               [[namespace, f.business_metric, "service",
                 name(f.name)]
                for f in FUNCTIONS if f.business_metric]),
        widget("Stream iterator age (ms)",
               [["AWS/Lambda", "IteratorAge", "FunctionName",
                 name(STREAM_CONSUMER)]], "Maximum"),
    ]  # fmt: skip
    return Sub(json.dumps({"widgets": widgets}, separators=(",", ":")))


def add(
    t: Template, params: Params, data: Data, security: Security, functions: Functions
) -> Monitoring:
    t.add_condition(ALARMS_ON, Equals(Ref(params.alarms_enabled), "true"))
    t.add_condition(EMAIL_SET, Not(Equals(Ref(params.alarm_email), "")))
    topic = t.add_resource(
        sns.Topic(
            logical_id("alarm", "topic"),
            DisplayName=Sub("${Stage} ${AWS::StackName} alarms"),
            KmsMasterKeyId=security.telemetry_key.get_att("Arn"),
        )
    )
    t.add_resource(
        suppress(
            sns.SubscriptionResource(
                logical_id("alarm", "email", "subscription"),
                Condition=EMAIL_SET,
                TopicArn=Ref(topic),
                Protocol="email",
                Endpoint=Ref(params.alarm_email),
            ),
            "ES7000",
            "An alarm e-mail that cannot be delivered is shown in the topic's delivery status; "
            "a dead letter queue for alarm e-mails would need an alarm of its own that would "
            "notify through the same topic.",
        )
    )
    by_function = {
        f.name: {
            spec.what: _alarm(t, spec, topic)
            for spec in function_alarms(f, Ref(functions.by_name[f.name]), params)
        }
        for f in FUNCTIONS
    }
    alarms = [alarm for own in by_function.values() for alarm in own.values()]
    alarms += [_alarm(t, spec, topic) for spec in stack_alarms(params, data, functions)]
    dashboard = t.add_resource(
        cloudwatch.Dashboard(
            logical_id("dashboard"),
            DashboardName=Sub("${AWS::StackName}"),
            DashboardBody=dashboard_body(functions),
        )
    )
    return Monitoring(topic=topic, dashboard=dashboard, alarms=alarms, by_function=by_function)
