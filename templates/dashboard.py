"""The stack's CloudWatch dashboard, generated from the same rows as the alarms: no widget is
written out by hand per function."""

import json

from troposphere import Sub, Template, cloudwatch

from tools.intrinsics import sub_text

from .catalog import FUNCTIONS
from .events import STREAM_CONSUMER
from .functions import Functions
from .monitoring import PERIOD, THROTTLED_DIMENSIONS, THROTTLED_METRIC, metrics_namespace
from .naming import logical_id


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


def add(t: Template, functions: Functions) -> cloudwatch.Dashboard:
    return t.add_resource(
        cloudwatch.Dashboard(
            logical_id("dashboard"),
            DashboardName=Sub("${AWS::StackName}"),
            DashboardBody=dashboard_body(functions),
        )
    )
