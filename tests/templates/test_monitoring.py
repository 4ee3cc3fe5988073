"""Observability invariants: alarms for every function and the stack, all wired to the topic,
switchable per stage without dangling references; the dashboard; the access log format."""

import json
import re
from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext

import pytest

from templates import monitoring
from templates.api_stage import ACCESS_LOG_FORMAT
from templates.catalog import FUNCTIONS
from templates.naming import logical_id, slug
from tests.cfn import references, resources_of_type
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver

FUNCTION_ALARMS = ("errors", "error-rate", "throttles", "duration")
STACK_ALARMS = {("functions", "concurrency"), ("api", "5xx-rate"), ("api", "throttled"),
                ("api", "4xx-rate"), ("api", "latency"), ("table", "throttles"),
                ("table", "system-errors"), ("stream", "iterator-age"),
                ("failures", "queued")}  # fmt: skip
THROTTLED_ALARM = logical_id("api", "throttled", "alarm")
API_5XX_ALARM = logical_id("api", "5xx-rate", "alarm")


def _alarms(template: dict) -> dict[str, dict]:
    return resources_of_type(template, "AWS::CloudWatch::Alarm")


def _resolved(template: dict) -> Resolver:
    return Resolver(template, {**stage_values(template, "prod"), "AlarmsEnabled": "true"})


def _functions_namespace(resolver: Resolver) -> str:
    """The POWERTOOLS_METRICS_NAMESPACE every function is given, as deployed: the one place
    the handlers publish their metrics (items_common.observability)."""
    functions = [resolver.resource(logical_id(f.name, "function")) for f in FUNCTIONS]
    [namespace] = {
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        for f in functions
    }
    return namespace


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
@pytest.mark.parametrize("what", FUNCTION_ALARMS)
def test_every_function_has_each_of_its_alarms(template, spec, what):
    alarm = _alarms(template)[logical_id(slug(spec.name), what, "alarm")]["Properties"]
    fn = {"Ref": logical_id(spec.name, "function")}
    assert fn in [d["Value"] for d in alarm.get("Dimensions", [])] or fn in [
        d["Value"] for m in alarm.get("Metrics", []) if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
    ]  # fmt: skip
    assert alarm["AlarmName"]["Fn::Sub"] == (
        f"${{Stage}}-${{AWS::StackName}}-{slug(spec.name)}-{what}"
    )


def test_the_stack_alarms_exist(template):
    names = {a["Properties"]["AlarmName"]["Fn::Sub"] for a in _alarms(template).values()}
    for resource, what in STACK_ALARMS:
        assert f"${{Stage}}-${{AWS::StackName}}-{resource}-{what}" in names


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(template):
    [topic] = resources_of_type(template, "AWS::SNS::Topic")
    alarms = _alarms(template)
    # Per function, its alarm rows plus its version's errors and duration (the rollback alarms).
    per_function = len(FUNCTION_ALARMS) + 2
    assert len(alarms) == len(FUNCTIONS) * per_function + len(STACK_ALARMS)
    for rid, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": topic}], rid
        assert props["OKActions"] == [{"Ref": topic}], rid
        assert props["TreatMissingData"] == "notBreaching", rid
        assert alarm["Condition"] == monitoring.ALARMS_ON, rid
        if "Metrics" in props:  # metric math: exactly one expression is the alarm's value
            assert [m["Id"] for m in props["Metrics"] if m["ReturnData"]] == ["result"]
            assert len(props["Metrics"]) <= 10  # CloudWatch's limit per alarm


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_alarms_switch_off_without_dangling_references(template, enabled):
    resolver = Resolver(template, {**stage_values(template, "dev"), "AlarmsEnabled": enabled})
    alarms = set(_alarms(template))
    created = {rid for rid in template["Resources"] if resolver.resource(rid) is not None}
    assert (alarms <= created) is (enabled == "true")
    assert (not (alarms & created)) == (enabled == "false")
    naming = set()
    for rid in created - alarms:
        named = set(references(resolver.resource(rid))) & alarms
        assert named <= created, rid  # nothing dangles
        if named:
            naming.add(template["Resources"][rid]["Type"])
    # Only CodeDeploy names alarms (its rollback triggers), and only while they exist.
    assert naming == ({"AWS::CodeDeploy::DeploymentGroup"} if enabled == "true" else set())
    assert not set(references(template["Outputs"])) & alarms


@pytest.mark.parametrize(("email", "subscribed"), [("", False), ("ops@example.com", True)])
def test_the_email_subscription_follows_the_parameter(template, email, subscribed):
    resolver = Resolver(template, {**stage_values(template, "test"), "AlarmEmail": email})
    [subscription] = resources_of_type(template, "AWS::SNS::Subscription")
    made = resolver.resource(subscription)
    assert (made is not None) is subscribed
    if made:
        assert made["Properties"]["Endpoint"] == email
        assert made["Properties"]["Protocol"] == "email"


def test_the_topic_is_encrypted_with_a_key_only_cloudwatch_and_logs_may_use(template):
    [topic] = resources_of_type(template, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    statements = template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    users = [s["Principal"] for s in statements if "kms:Decrypt" in s["Action"]]
    assert users == [
        {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]},
        {"Service": ["cloudwatch.amazonaws.com"]},
    ]


def test_the_dashboard_shows_every_function_the_api_the_table_and_the_stream(template):
    [dashboard] = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    text = json.dumps(body)
    for spec in FUNCTIONS:
        assert f"${{{logical_id(spec.name, 'function')}}}" in text, spec.name
    titles = " ".join(w["properties"]["title"] for w in body["widgets"])
    for topic in ("Invocations", "Errors", "Duration", "API", "4XX", "5XX", "latency",
                  "capacity", "throttles", "iterator age"):  # fmt: skip
        assert topic in titles, topic
    assert "DashboardUrl" in template["Outputs"]


def test_the_access_log_format_is_json_with_every_field(template):
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    assert fields == ACCESS_LOG_FORMAT
    assert set(fields) == {"requestId", "caller", "httpMethod", "ip", "protocol", "requestTime",
                           "resourcePath", "responseLength", "status", "user",
                           "integrationLatency"}  # fmt: skip
    assert all(v.startswith("$context.") for v in fields.values())


def test_business_metrics_are_named_as_the_handlers_emit_them(template):
    from items_common import observability  # the layer package (tests put it on sys.path)

    named = {f.business_metric for f in FUNCTIONS if f.business_metric}
    emitted = {observability.ITEMS_CREATED, observability.ITEMS_UPDATED,
               observability.ITEMS_DELETED}  # fmt: skip
    assert named == emitted
    [dashboard] = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert all(f'"{m}"' in body for m in emitted)


def test_the_dashboard_shows_the_handlers_metrics_in_their_namespace(template):
    resolver = _resolved(template)
    [dashboard] = resources_of_type(template, "AWS::CloudWatch::Dashboard")
    body = json.loads(resolver.resource(dashboard)["Properties"]["DashboardBody"])
    rows = [row for w in body["widgets"] for row in w["properties"]["metrics"]]
    handlers = {row[1]: row[0] for row in rows if not row[0].startswith("AWS/")}
    assert set(handlers) == {"ItemsCreated", "ItemsUpdated", "ItemsDeleted", "RequestsThrottled"}
    assert set(handlers.values()) == {_functions_namespace(resolver)}
    assert ["items-api-prod", "RequestsThrottled", "scope", "api"] in rows


def test_the_throttled_metric_is_named_as_the_handlers_publish_it():
    from items_common import observability  # the layer package (tests put it on sys.path)

    assert monitoring.THROTTLED_METRIC == observability.REQUESTS_THROTTLED
    assert monitoring.THROTTLED_DIMENSIONS == observability.THROTTLED_DIMENSIONS


# The alarm that pages on throttled answers watches the metric alone; the 5XX rate subtracts it
# (its query `throttled`). Both must read it where the handlers publish it, or neither works.
@pytest.mark.parametrize(("alarm_id", "query_id"), [(THROTTLED_ALARM, None),
                                                    (API_5XX_ALARM, "throttled")])  # fmt: skip
def test_throttled_answers_are_watched_in_the_functions_namespace(template, alarm_id, query_id):
    resolver = _resolved(template)
    props = resolver.resource(alarm_id)["Properties"]
    if query_id is None:
        metric, stat = props, props["Statistic"]
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
        assert props["Period"] == monitoring.PERIOD
    else:
        [query] = [m for m in props["Metrics"] if m["Id"] == query_id]
        metric, stat = query["MetricStat"]["Metric"], query["MetricStat"]["Stat"]
    assert metric["Namespace"] == _functions_namespace(resolver) == "items-api-prod"
    assert metric["MetricName"] == "RequestsThrottled"
    assert metric["Dimensions"] == [{"Name": "scope", "Value": "api"}]
    assert stat == "Sum"


def _datapoint(expression: str, **series: int | None) -> Decimal:
    """One datapoint of a metric-math expression as CloudWatch computes it: None is a missing
    datapoint, FILL fills it, IF picks a branch (a division by zero in the other is no error)."""
    functions = {"IF": lambda c, yes, no: yes if c else no,
                 "FILL": lambda value, fill: fill if value is None else value}  # fmt: skip
    values = {k: None if v is None else Decimal(v) for k, v in series.items()}
    with localcontext() as context:
        context.traps[DivisionByZero] = context.traps[InvalidOperation] = False
        return Decimal(eval(expression, {"__builtins__": {}, **functions}, values))


@pytest.mark.parametrize(
    ("errors", "throttled", "requests", "percent"),
    [
        (6, 1, 100, 5),  # the one throttled answer is not a fault
        (3, 3, 10, 0),  # throttling alone pages as api-throttled, never as 5xx-rate
        (2, None, 50, 4),  # no throttle publishes no datapoint: nothing to subtract
        (0, None, 0, 0),  # no requests, no rate (not a division by zero)
    ],
)
def test_the_5xx_rate_leaves_throttled_answers_out(template, errors, throttled, requests, percent):
    [result] = [m for m in _alarms(template)[API_5XX_ALARM]["Properties"]["Metrics"]
                if m["ReturnData"]]  # fmt: skip
    found = _datapoint(result["Expression"], errors=errors, throttled=throttled, requests=requests)
    assert found == percent


def test_the_5xx_rate_counts_the_api_s_answers(template):
    """Sums, not API Gateway's Average: the throttled count can only be subtracted from a count."""
    metrics = _alarms(template)[API_5XX_ALARM]["Properties"]["Metrics"]
    watched = {m["Id"]: (m["MetricStat"]["Metric"]["Namespace"],
                         m["MetricStat"]["Metric"]["MetricName"], m["MetricStat"]["Stat"])
               for m in metrics if "MetricStat" in m}  # fmt: skip
    assert watched["errors"] == ("AWS/ApiGateway", "5XXError", "Sum")
    assert watched["requests"] == ("AWS/ApiGateway", "Count", "Sum")
    assert [m["ReturnData"] for m in metrics] == [False, False, False, True]


def test_every_metric_math_expression_uses_exactly_its_alarms_queries(template):
    """CloudWatch refuses an alarm whose expression names an unknown id; a query no expression
    uses would be fetched for nothing. Ids start lowercase, functions (IF, SUM, ...) do not."""
    for rid, alarm in _alarms(template).items():
        metrics = alarm["Properties"].get("Metrics", [])
        queries = {m["Id"] for m in metrics if "MetricStat" in m}
        named = {
            name
            for m in metrics if "Expression" in m
            for name in re.findall(r"\b[a-z][A-Za-z0-9_]*\b", m["Expression"])
        }  # fmt: skip
        assert named == queries, rid
