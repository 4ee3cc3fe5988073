"""Observability invariants: alarms for every function and the stack, all wired to the topic,
switchable per stage without dangling references; the dashboard; the access log format."""

import json

import pytest

from templates import monitoring
from templates.api import ACCESS_LOG_FORMAT
from templates.catalog import FUNCTIONS
from templates.naming import logical_id, slug
from tests.cfn import Resolver, references, resources_of_type, stage_values

FUNCTION_ALARMS = ("errors", "error-rate", "throttles", "duration")
STACK_ALARMS = {("functions", "concurrency"), ("api", "5xx-rate"), ("api", "4xx-rate"),
                ("api", "latency"), ("table", "throttles"), ("table", "system-errors"),
                ("stream", "iterator-age"), ("failures", "queued")}  # fmt: skip


def _alarms(template: dict) -> dict[str, dict]:
    return resources_of_type(template, "AWS::CloudWatch::Alarm")


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
    assert '"${Project}-${Stage}"' in body  # the namespace the functions are given
