"""Invariants over the whole built template: what must hold for every function, every policy,
every stateful resource and every parameter."""

import dataclasses
import json
import re

import pytest

import templates
import templates.api
from templates import build_template
from templates.catalog import COLLECTION, FUNCTIONS, ROUTES, FunctionSpec
from templates.naming import logical_id
from templates.parameters import Param, grouped
from tests.cfn import (
    function_policy,
    policy_statements,
    references,
    resources_of_type,
    taggable_types,
)
from tools.deploy.stack_policy import STATEFUL_TYPES
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver


def _fn(template: dict, spec: FunctionSpec) -> dict:
    return template["Resources"][logical_id(spec.name, "function")]


def _live_alias(template: dict, spec: FunctionSpec) -> str:
    """The logical ID of the function's one alias (what its route invokes)."""
    fn_id = logical_id(spec.name, "function")
    [alias] = [
        rid
        for rid, r in resources_of_type(template, "AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    return alias


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: s.name)
def test_every_function_has_its_own_role_log_group_permission_and_route(template, spec):
    props = _fn(template, spec)["Properties"]

    role_id = props["Role"]["Fn::GetAtt"][0]
    users = [r for r in resources_of_type(template, "AWS::Lambda::Function").values()
             if r["Properties"]["Role"]["Fn::GetAtt"][0] == role_id]  # fmt: skip
    assert len(users) == 1, f"{role_id} is shared"

    # cfn-lint-serverless's WS1004 (log group with retention) cannot follow LoggingConfig and is
    # suppressed: this is its check. Lambda writes to LoggingConfig.LogGroup instead of making
    # /aws/lambda/<name> itself (https://docs.aws.amazon.com/lambda/latest/dg/
    # monitoring-cloudwatchlogs-loggroups.html).
    group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template["Resources"][group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    writers = [f for f in resources_of_type(template, "AWS::Lambda::Function").values()
               if f["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}]  # fmt: skip
    assert len(writers) == 1, f"{group_id} is shared"

    alias = {"Ref": _live_alias(template, spec)}  # an alias's Ref is its ARN
    [permission] = [
        r["Properties"]
        for r in resources_of_type(template, "AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == alias
    ]
    route = "/".join("${RoutePrefix}" if s == COLLECTION else "*" if s[0] == "{" else s
                     for s in spec.path)  # fmt: skip
    assert permission["SourceArn"]["Fn::Sub"].endswith(f"/*/{spec.method}/{route}")
    assert permission["Principal"] == "apigateway.amazonaws.com"

    [method] = [
        r["Properties"]
        for r in resources_of_type(template, "AWS::ApiGateway::Method").values()
        if r["Properties"]["Integration"].get("Uri", {}).get("Fn::Sub", [0, {}])[1].get("Arn")
        == alias
    ]
    assert method["HttpMethod"] == spec.method
    assert method["Integration"]["Type"] == "AWS_PROXY"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_function_is_traced_layered_and_configured(template, spec):
    props = _fn(template, spec)["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Layers"] == [{"Ref": "SharedLayer"}]
    assert props["Runtime"] == {"Ref": "Runtime"}
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert {"TABLE_NAME", "STAGE", "LOG_LEVEL"} <= set(props["Environment"]["Variables"])
    assert props["Code"]["S3Key"] == {"Ref": logical_id(spec.name, "code", "key")}


@pytest.mark.parametrize("sort_key", ["", "timestamp"], ids=["plain", "history"])
@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_role_holds_exactly_its_access_in_each_mode(template, spec, sort_key):
    resolver = Resolver(template, {**stage_values(template, "test"), "SortKeyName": sort_key})
    access = spec.in_history_mode if sort_key else spec.access
    policy_id = function_policy(template, logical_id(spec.name, "function"))
    policy = resolver.resource(policy_id)["Properties"]
    granted = {s["Sid"]: sorted(s["Action"]) for s in policy["PolicyDocument"]["Statement"]}
    expected = {
        sid: sorted(actions)
        for sid, actions in {
            "Table": access.table,
            "Attachments": access.attachments,
            "Audit": access.audit,
            "Stream": access.stream,
            "Idempotency": access.idempotency,
            # Every function's dead letter queue is the failure queue.
            "FailureQueue": {*access.failure_queue, "sqs:SendMessage"},
            # The data key: its environment (Lambda), the table, bucket and queue.
            "DataKey": ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
            "OwnLogGroup": ("logs:CreateLogStream", "logs:PutLogEvents"),
            "XRayWrite": ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        }.items()
        if actions
    }
    assert granted == expected
    prefixes = {s["Sid"]: s["Resource"] for s in policy["PolicyDocument"]["Statement"]}
    assert prefixes.get("Attachments", ["${ItemsBucket.Arn}/items/*"]) == [
        "${ItemsBucket.Arn}/items/*"
    ]
    assert prefixes.get("Audit", ["${ItemsBucket.Arn}/audit/*"]) == ["${ItemsBucket.Arn}/audit/*"]


def test_no_iam_action_is_a_wildcard(template):
    actions = [a for _, s in policy_statements(template) for a in s["Action"]]
    assert actions
    assert not [a for a in actions if a == "*" or a.endswith(":*")]


def test_only_xray_statements_use_resource_star(template):
    star = [(rid, s["Action"]) for rid, s in policy_statements(template) if "*" in s["Resource"]]
    assert star
    assert all(a.startswith("xray:") for _, actions in star for a in actions), star


# The property that names each stateful type (none of ours may be fixed, see below).
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::KMS::Key": None,  # keys have no name (the alias is not retained)
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
}


def test_every_stateful_resource_is_retained_except_on_a_failed_create(template):
    """RetainExceptOnCreate keeps the resource on a stack delete or an update that removes it,
    but deletes it when the create that made it rolls back, so a failed first deploy leaves
    nothing behind to block the retry (https://docs.aws.amazon.com/AWSCloudFormation/latest/
    TemplateReference/aws-attribute-deletionpolicy.html). UpdateReplacePolicy has no such
    value: a replacement keeps the old resource."""
    stateful = {k: r for k, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES}
    assert set(NAME_PROPERTIES) == STATEFUL_TYPES
    assert len(stateful) >= len(FUNCTIONS) + 3  # tables, api logs, function logs
    for rid, r in stateful.items():
        policies = (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
        assert policies == ("RetainExceptOnCreate", "Retain"), rid


def test_no_retained_resource_has_a_name_the_next_stack_would_reuse(template):
    """A retained resource outlives its stack; had it a fixed name, the next stack of the same
    name would fail to create it ("already exists"). moto had that failure for the function log
    groups: so every stateful name is CloudFormation's, or carries the id of a resource new
    with each stack (the execution log group: the REST API's id)."""
    for rid, r in template["Resources"].items():
        if r["Type"] not in STATEFUL_TYPES or not NAME_PROPERTIES[r["Type"]]:
            continue
        name = r["Properties"].get(NAME_PROPERTIES[r["Type"]])
        if name is not None:
            assert set(references(name)) & set(template["Resources"]), (rid, name)


def test_api_gateway_execution_logs_go_to_a_group_of_the_stack_made_before_the_stage(template):
    """API Gateway creates `API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}` itself when
    the stage logs (https://docs.aws.amazon.com/apigateway/latest/developerguide/
    rest-api-execution-logging.html): unencrypted, never expiring, outside the stack. The
    stack makes it first, with the API log retention and the telemetry key."""
    [stage_id] = resources_of_type(template, "AWS::ApiGateway::Stage")
    stage = template["Resources"][stage_id]
    api = stage["Properties"]["RestApiId"]["Ref"]
    stage_name = stage["Properties"]["StageName"]["Ref"]
    wanted = {"Fn::Sub": f"API-Gateway-Execution-Logs_${{{api}}}/${{{stage_name}}}"}
    [group_id] = [
        rid
        for rid, r in resources_of_type(template, "AWS::Logs::LogGroup").items()
        if r["Properties"].get("LogGroupName") == wanted
    ]
    group = template["Resources"][group_id]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "ApiLogRetentionDays"}
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["TelemetryKey", "Arn"]}
    assert group_id in stage["DependsOn"]
    order = list(template["Resources"])
    assert order.index(group_id) < order.index(stage_id)  # moto creates in document order


def test_resources_come_after_everything_they_reference(template):
    """moto creates change-set resources in document order and ignores DependsOn."""
    seen = set(template["Parameters"]) | set(template.get("Conditions", {}))
    for rid, r in template["Resources"].items():
        needed = set(references(r)) | set(r.get("DependsOn", []))
        assert needed <= seen, f"{rid} comes before {needed - seen}"
        seen.add(rid)


DEFINITION = ("AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
              "AWS::ApiGateway::GatewayResponse", "AWS::ApiGateway::Model",
              "AWS::ApiGateway::RequestValidator", "AWS::ApiGateway::Authorizer")  # fmt: skip


def test_deployment_follows_every_part_of_the_api(template):
    """The custom resource deploys only after every part of the API exists."""
    parts = {rid for type_ in DEFINITION for rid in resources_of_type(template, type_)}
    [(dep_id, dep)] = resources_of_type(template, "Custom::ApiDeployment").items()
    assert set(dep["DependsOn"]) == parts
    assert not resources_of_type(template, "AWS::ApiGateway::Deployment")
    [stage] = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["DeploymentId"] == {"Fn::GetAtt": [dep_id, "DeploymentId"]}
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert stage["Properties"]["TracingEnabled"] is True
    assert json.loads(stage["Properties"]["AccessLogSetting"]["Format"])["status"]


def _deployment_id(t: dict) -> str:
    """What makes CloudFormation deploy the API again for a template change: its hash."""
    [dep] = resources_of_type(t, "Custom::ApiDeployment").values()
    return dep["Properties"]["ApiHash"]


def _with_functions(monkeypatch, functions) -> dict:
    monkeypatch.setattr(templates.api, "ROUTES", tuple(f for f in functions if f.method))
    monkeypatch.setattr(templates.functions, "FUNCTIONS", functions)
    return build_template().to_dict()


CHANGES = {
    "method": lambda s: dataclasses.replace(s, method="PATCH"),
    "path": lambda s: dataclasses.replace(s, path=("v2", *s.path)),
}


@pytest.mark.parametrize("change", CHANGES)
def test_deployment_id_changes_when_a_method_changes(template, monkeypatch, change):
    changed = tuple(CHANGES[change](s) if s.name == "update_item" else s for s in FUNCTIONS)
    assert _deployment_id(_with_functions(monkeypatch, changed)) != _deployment_id(template)


def test_deployment_id_stays_when_the_api_does_not_change(template, monkeypatch):
    assert _deployment_id(build_template().to_dict()) == _deployment_id(template)
    described = tuple(
        dataclasses.replace(s, description=s.description + " Changed.") for s in FUNCTIONS
    )
    other = _with_functions(monkeypatch, described)
    assert other["Resources"] != template["Resources"]  # the functions did change
    assert _deployment_id(other) == _deployment_id(template)


def test_every_parameter_is_safe_and_clear_in_the_console(template):
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])  # each in exactly one group
    for name, spec in template["Parameters"].items():
        assert spec["Description"], name
        assert spec.get("ConstraintDescription"), name
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(spec), name
        assert interface["ParameterLabels"][name]["default"], name


def test_the_parameters_come_group_by_group_in_the_consoles_order(template):
    """The template lists the parameters as the console shows them (docs/parameters.md follows
    the template), so a reader of either finds a group's parameters together."""
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert [g["Label"]["default"] for g in groups] == list(templates.GROUPS)
    assert list(template["Parameters"]) == [p for g in groups for p in g["Parameters"]]


@pytest.mark.parametrize(
    "declared, refused",
    [
        ((Param("A", group="Nowhere", label="a", description="a"),), "groups not in GROUPS"),
        ((Param("A", group="API", label="a", description="a"),) * 2, "declared twice: ['A']"),
    ],
)
def test_a_parameter_in_an_unknown_group_or_declared_twice_is_a_build_error(declared, refused):
    with pytest.raises(ValueError, match=re.escape(refused)):
        grouped(templates.GROUPS, declared)


def test_outputs_name_the_api_table_stage_and_every_function(template):
    outputs = template["Outputs"]
    assert {"ApiUrl", "TableName", "TableArn", "TableStreamArn", "BucketName", "DataKeyArn",
            "Stage"} <= set(outputs)  # fmt: skip
    for spec in FUNCTIONS:
        assert logical_id(spec.name, "function", "name") in outputs
        assert logical_id(spec.name, "function", "arn") in outputs
    for name, o in outputs.items():
        assert o["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{name}"}


TAGS = {"Project", "Environment", "Owner", "CostCenter", "ManagedBy"}


def test_every_taggable_resource_has_every_tag(template):
    tagged = 0
    for rid, r in template["Resources"].items():
        tags = r.get("Properties", {}).get("Tags")
        if tags is not None:
            assert {t["Key"] for t in tags} == TAGS, rid
            assert {"Key": "Environment", "Value": {"Ref": "Stage"}} in tags, rid
            tagged += 1
    taggable = taggable_types()  # from CloudFormation's resource schemas
    assert tagged == sum(1 for r in template["Resources"].values() if r["Type"] in taggable)


def _document_headers() -> set[str]:
    """The request headers the OpenAPI document says the API reads, and Content-Type."""
    from templates.openapi import document

    declared = document()["components"]["parameters"].values()
    return {"Content-Type", *(p["name"] for p in declared if p["in"] == "header")}


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_every_preflight_allows_every_header_the_api_reads(template, stage):
    """A browser sends a header only if the preflight lists it: If-Match on PUT, PATCH and
    DELETE and Idempotency-Key on POST were blocked (#16 item 13). Whatever a stage file sets
    CorsAllowHeaders to, the API's own headers stay allowed."""
    from tools.deploy import stage_params

    values = stage_params.with_defaults(template, stage_values(template, stage))
    for edited in (values, {**values, "CorsAllowHeaders": "X-Other"}):
        resolver = Resolver(template, edited)
        for rid, method in resources_of_type(template, "AWS::ApiGateway::Method").items():
            if method["Properties"]["HttpMethod"] != "OPTIONS":
                continue
            [response] = resolver.resource(rid)["Properties"]["Integration"]["IntegrationResponses"]
            allowed = response["ResponseParameters"][
                "method.response.header.Access-Control-Allow-Headers"
            ]
            names = {h.strip() for h in allowed.strip("'").split(",")}
            assert _document_headers() <= names, (rid, allowed)
    assert {"If-Match", "Idempotency-Key"} <= _document_headers()


# What AWS::Lambda::Function LoggingConfig accepts ("Allowed values" of ApplicationLogLevel and
# SystemLogLevel in the CloudFormation reference, aws-properties-lambda-function-loggingconfig):
# Python's WARNING is not among them, so the template maps LogLevel to Lambda's names.
LAMBDA_APPLICATION_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
LAMBDA_SYSTEM_LEVELS = {"DEBUG", "INFO", "WARN"}


@pytest.mark.parametrize(
    "log_level, system_level, application_level",
    [("DEBUG", "DEBUG", "DEBUG"), ("INFO", "INFO", "INFO"), ("WARNING", "WARN", "WARN"),
     ("ERROR", "INFO", "ERROR")],
)  # fmt: skip
def test_every_function_logs_json_at_the_levels_the_console_sets(
    template, log_level, system_level, application_level
):
    """An operator's edit of LogLevel or SystemLogLevel reaches every function, the custom
    resource's included, as a value Lambda accepts; and none may loop on itself."""
    values = {**stage_values(template, "prod"), "LogLevel": log_level,
              "SystemLogLevel": system_level}  # fmt: skip
    resolver = Resolver(template, values)
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert len(functions) == len(FUNCTIONS) + 1  # the catalog's and the custom resource's
    for lid, fn in functions.items():
        config = resolver.resolve(fn["Properties"]["LoggingConfig"])
        assert config["LogFormat"] == "JSON", lid  # the levels need JSON
        assert config["ApplicationLogLevel"] == application_level, lid
        assert config["SystemLogLevel"] == system_level, lid
        assert config["ApplicationLogLevel"] in LAMBDA_APPLICATION_LEVELS
        assert config["SystemLogLevel"] in LAMBDA_SYSTEM_LEVELS
        assert fn["Properties"]["RecursiveLoop"] == "Terminate", lid


def test_every_log_level_the_console_offers_is_one_lambda_accepts(template):
    offered = template["Parameters"]["LogLevel"]["AllowedValues"]
    mapped = template["Mappings"]["ApplicationLogLevels"]
    assert sorted(mapped) == sorted(offered)
    assert {m["Level"] for m in mapped.values()} <= LAMBDA_APPLICATION_LEVELS
    assert set(template["Parameters"]["SystemLogLevel"]["AllowedValues"]) <= LAMBDA_SYSTEM_LEVELS
