"""Canary deployments: every function is invoked through its `live` alias, CodeDeploy shifts the
alias to each new version as DeploymentPreference says and rolls back on that version's own
error and duration alarms, and a function's Version changes exactly when the function does
(tests/templates/test_aws_rules.py proves the Description's length bound and the exact-change
rule)."""

import dataclasses
import hashlib
import json
import re

import boto3
import pytest
from moto import mock_aws

import templates.api
import templates.api_deployment
import templates.api_stage
import templates.functions
import templates.parameters
from templates import build_template, deployments
from templates.catalog import FUNCTIONS, ROUTES, FunctionSpec
from templates.deployments import DEPLOYMENT_PREFERENCES, LIVE, NOT_VERSIONED
from templates.monitoring import ALARMS_ON
from templates.naming import logical_id
from templates.parameters import REPLACING
from tests.aws import REGION
from tests.cfn import (
    ROOT,
    build_keys,
    create_built_stack,
    create_only_properties,
    parameter_reach,
    references,
    resources_of_type,
)
from tests.deployed import Deployed, settings_record, version_description
from tools.deploy.stack_policy import STATEFUL_TYPES
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver
from tools.local import moto_compat
from tools.local.routes import invoked_function

VERSION, ALIAS = "AWS::Lambda::Version", "AWS::Lambda::Alias"
LAYER = "AWS::Lambda::LayerVersion"
GROUP, APPLICATION = "AWS::CodeDeploy::DeploymentGroup", "AWS::CodeDeploy::Application"
DESCRIPTION_LIMIT = 256  # characters Lambda allows in a version's Description


def _fn_id(spec: FunctionSpec) -> str:
    return logical_id(spec.name, "function")


def _of_function(template: dict, type_: str, spec: FunctionSpec) -> dict[str, dict]:
    """The resources of `type_` whose FunctionName is the function's Ref."""
    return {
        rid: r
        for rid, r in resources_of_type(template, type_).items()
        if r["Properties"]["FunctionName"] == {"Ref": _fn_id(spec)}
    }


def _alias(template: dict, spec: FunctionSpec) -> tuple[str, dict]:
    [(rid, alias)] = _of_function(template, ALIAS, spec).items()
    return rid, alias


def _version(template: dict, spec: FunctionSpec) -> tuple[str, dict]:
    [(rid, version)] = _of_function(template, VERSION, spec).items()
    return rid, version


def _group(template: dict, spec: FunctionSpec) -> tuple[str, dict]:
    _, alias = _alias(template, spec)
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group_id = update["DeploymentGroupName"]["Ref"]
    return group_id, template["Resources"][group_id]


# Every function: one version, one alias `live` on it


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_function_has_one_version_and_one_live_alias_on_it(template, spec):
    version_id, _ = _version(template, spec)
    _, alias = _alias(template, spec)
    assert alias["Properties"]["Name"] == LIVE
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert version_id.startswith(logical_id(spec.name, "version"))


def test_there_are_no_other_versions_or_aliases(template):
    for type_ in (VERSION, ALIAS):
        assert len(resources_of_type(template, type_)) == len(FUNCTIONS), type_


# What invokes a function invokes its alias: resource type -> (where it names the function,
# the functions it invokes)
CALLERS = {
    "AWS::ApiGateway::Method": (lambda p: p["Integration"]["Uri"]["Fn::Sub"][1]["Arn"], ROUTES),
    "AWS::Lambda::Permission": (lambda p: p["FunctionName"], ROUTES),
    "AWS::Lambda::EventSourceMapping": (
        lambda p: p["FunctionName"],
        tuple(f for f in FUNCTIONS if not f.method),
    ),
}


def _proxy(resource: dict) -> bool:
    """Not a MOCK integration (the preflights invoke nothing)."""
    integration = resource["Properties"].get("Integration", {"Type": "AWS_PROXY"})
    return integration["Type"] == "AWS_PROXY"


@pytest.mark.parametrize("type_", CALLERS)
def test_every_method_permission_and_mapping_targets_an_alias(template, type_):
    where, invoked = CALLERS[type_]
    callers = {rid: r for rid, r in resources_of_type(template, type_).items() if _proxy(r)}
    aliases = resources_of_type(template, ALIAS)
    targets = []
    for rid, caller in callers.items():
        target = where(caller["Properties"])
        assert set(target) == {"Ref"} and target["Ref"] in aliases, rid  # Ref: the alias ARN
        targets.append(target["Ref"])
    assert sorted(targets) == sorted(_alias(template, spec)[0] for spec in invoked)


# CodeDeploy: one application, one group per function, named by the alias's UpdatePolicy


def test_one_lambda_application_for_every_group(template):
    [(app_id, app)] = resources_of_type(template, APPLICATION).items()
    assert app["Properties"]["ComputePlatform"] == "Lambda"
    assert len(resources_of_type(template, GROUP)) == len(FUNCTIONS)
    for group in resources_of_type(template, GROUP).values():
        assert group["Properties"]["ApplicationName"] == {"Ref": app_id}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_alias_update_goes_through_its_functions_group(template, spec):
    _, alias = _alias(template, spec)
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group_id, group = _group(template, spec)
    assert group["Type"] == GROUP
    assert update["ApplicationName"] == group["Properties"]["ApplicationName"]
    others = [s for s in FUNCTIONS if s != spec]
    assert group_id not in {_group(template, s)[0] for s in others}
    props = group["Properties"]
    assert props["DeploymentStyle"] == {
        "DeploymentType": "BLUE_GREEN",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    assert props["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    role = template["Resources"][props["ServiceRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["codedeploy.amazonaws.com"]}
    assert role["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
            "AWSCodeDeployRoleForLambdaLimited"
        }
    ]
    assert "Policies" not in role


@pytest.mark.parametrize("preference", DEPLOYMENT_PREFERENCES)
def test_every_group_uses_the_parameters_deployment_config(template, preference):
    values = {**stage_values(template, "test"), "DeploymentPreference": preference}
    resolver = Resolver(template, values)
    for group_id in resources_of_type(template, GROUP):
        config = resolver.resource(group_id)["Properties"]["DeploymentConfigName"]
        assert resolver.resolve(config) == f"CodeDeployDefault.Lambda{preference}", group_id


def _watches(alarm: dict, fn_id: str, version_id: str, metric: str) -> bool:
    """The alarm watches `metric` of exactly this version of this function, as invoked through
    its `live` alias (one metric, no metric math)."""
    props = alarm["Properties"]
    return props.get("MetricName") == metric and props.get("Dimensions") == [
        {"Name": "FunctionName", "Value": {"Ref": fn_id}},
        {"Name": "Resource", "Value": {"Fn::Sub": f"${{{fn_id}}}:{LIVE}"}},
        {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [version_id, "Version"]}},
    ]


@pytest.mark.parametrize("enabled", ["true", "false"])
@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_group_rolls_back_on_exactly_its_new_versions_error_and_duration_alarms(
    template, spec, enabled
):
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    version_id, _ = _version(template, spec)
    expected = sorted(
        rid
        for rid, a in alarms.items()
        if _watches(a, _fn_id(spec), version_id, "Errors")
        or _watches(a, _fn_id(spec), version_id, "Duration")
    )
    assert len(expected) == 2
    assert {alarms[a]["Condition"] for a in expected} == {ALARMS_ON}
    group_id, _ = _group(template, spec)
    values = {**stage_values(template, "test"), "AlarmsEnabled": enabled}
    group = Resolver(template, values).resource(group_id)["Properties"]
    if enabled == "true":
        configured = group["AlarmConfiguration"]
        assert configured["Enabled"] is True
        assert sorted(a["Name"]["Ref"] for a in configured["Alarms"]) == expected
    else:
        # The alarms do not exist: none is named, and the group says alarms are off.
        assert group["AlarmConfiguration"] == {"Enabled": False}


def test_the_parameter_is_a_choice_of_codedeploys_lambda_configs(template):
    spec = template["Parameters"]["DeploymentPreference"]
    assert spec["AllowedValues"] == list(DEPLOYMENT_PREFERENCES)
    assert spec["Default"] == "AllAtOnce"
    assert {"AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute"} == set(
        DEPLOYMENT_PREFERENCES
    )


@pytest.mark.parametrize(
    ("stage", "preference"),
    [("dev", "AllAtOnce"), ("test", "AllAtOnce"), ("prod", "Canary10Percent5Minutes")],
)
def test_each_stage_files_preference(template, stage, preference):
    assert stage_values(template, stage)["DeploymentPreference"] == preference


@pytest.mark.parametrize("type_", [VERSION, ALIAS, GROUP, APPLICATION])
def test_nothing_of_the_deployment_is_stateful(type_):
    """A replaced version or group holds no data: the stack policy must not pin them."""
    assert type_ not in STATEFUL_TYPES


# The version's logical ID changes exactly when the function's template properties do


def _version_ids(template: dict) -> dict[str, str]:
    return {spec.name: _version(template, spec)[0] for spec in FUNCTIONS}


def _described(name: str):
    return lambda specs: tuple(
        dataclasses.replace(s, description=s.description + " Changed.") if s.name == name else s
        for s in specs
    )


# change -> (how the build changes, the functions whose version must change)
TEMPLATE_CHANGES = {
    "get_item's description": ({"FUNCTIONS": _described("get_item")}, {"get_item"}),
    "stream_audit's description": ({"FUNCTIONS": _described("stream_audit")}, {"stream_audit"}),
    "every function's handler": ({"HANDLER": "main.handler"}, {f.name for f in FUNCTIONS}),
    # Reserved concurrency is the function's, not a version's: Lambda would publish nothing.
    "a function-level setting": ({"RESERVED": "ConcurrencyReservedToo"}, set()),
}


@pytest.mark.parametrize("change", TEMPLATE_CHANGES)
def test_a_template_change_of_a_function_changes_exactly_its_versions_id(
    template, monkeypatch, change
):
    patches, expected = TEMPLATE_CHANGES[change]
    for name, value in patches.items():
        current = getattr(templates.functions, name)
        monkeypatch.setattr(templates.functions, name, value(current) if callable(value) else value)
    changed = build_template().to_dict()
    before, after = _version_ids(template), _version_ids(changed)
    assert {name for name in before if before[name] != after[name]} == expected
    assert changed["Resources"] != template["Resources"]  # the build did change


# Refactors that change no function property: (module, attribute, new value). A new Version
# logical ID for an unchanged function makes CloudFormation publish again, and Lambda refuses:
# "A version for this Lambda function exists" (the update fails and rolls back).
REFACTORS = {
    "every parameter's console-edit note": (templates.parameters, "EDIT_AT_ONCE", "Applies."),
    "a route's path (the API, not the function)": (
        templates.api,
        "ROUTES",
        tuple(dataclasses.replace(r, path=("v2", *r.path)) for r in ROUTES),
    ),
    "the API deployment function's timeout": (templates.api_deployment, "TIMEOUT", 90),
    "another access log field": (
        templates.api_stage,
        "ACCESS_LOG_FORMAT",
        {"extra": "$context.domainName"},
    ),
}


@pytest.mark.parametrize("refactor", REFACTORS)
def test_a_refactor_that_changes_no_function_keeps_every_version(template, monkeypatch, refactor):
    module, name, value = REFACTORS[refactor]
    monkeypatch.setattr(module, name, value)
    changed = build_template().to_dict()
    assert changed != template  # the refactor did change the template
    assert resources_of_type(changed, VERSION) == resources_of_type(template, VERSION)


def test_the_same_sources_give_the_same_version_ids(template):
    assert _version_ids(build_template().to_dict()) == _version_ids(template)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_the_version_id_hashes_the_function_as_the_template_has_it(template, spec):
    """Nothing added to the function after its version was named (tags are not versioned)."""
    versioned = _versioned(template, spec)
    versioned["Code"] = {k: v for k, v in versioned["Code"].items() if k != "S3Bucket"}
    canonical = json.dumps(versioned, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert _version(template, spec)[0] == logical_id(spec.name, "version", digest)


# The version's Description: every value the function's versioned properties take from outside
# the template text, so a parameter-level change publishes a new version too


def _versioned(template: dict, spec: FunctionSpec) -> dict:
    props = template["Resources"][_fn_id(spec)]["Properties"]
    return {k: v for k, v in props.items() if k not in NOT_VERSIONED}


def _description_inputs(template: dict, spec: FunctionSpec) -> set[str]:
    """What the Description names, and what the settings record it names names in turn."""
    _, version = _version(template, spec)
    named = set(references(version["Properties"]["Description"]))
    for rid in sorted(named & set(resources_of_type(template, LAYER))):
        if rid not in set(references(template["Resources"][_fn_id(spec)])):  # the record
            named |= set(references(template["Resources"][rid]["Properties"]["Description"]))
    return named


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_the_description_names_every_outside_value_of_the_function(template, spec):
    """Directly, in the settings record whose version it names, or, for a value that replaces
    a resource the function names (the table's key names), by that resource's identity."""
    fn_id = _fn_id(spec)
    versioned = _versioned(template, spec)
    reach = parameter_reach(template)
    used = {p for p, props in reach.items() for rid, prop in props
            if rid == fn_id and prop in versioned}  # fmt: skip
    # The code's bucket says where the zip lies, its content-addressed key what the code is.
    where = versioned["Code"].pop("S3Bucket")
    assert where == {"Ref": "ArtifactBucket"}
    assert "ArtifactBucket" not in set(references(versioned))
    used -= {"ArtifactBucket"}
    assert logical_id(spec.name, "code", "key") in used
    # A resource the function names changes its value when it is replaced: by a parameter
    # reaching one of its create-only properties. That parameter must be named itself, or the
    # resource (the layer: every new zip is a new layer version).
    create_only = create_only_properties()
    named_resources = {r for r in references(versioned) if r in template["Resources"]}
    in_description = _description_inputs(template, spec)
    by_identity = set()
    for rid in named_resources:
        type_ = template["Resources"][rid]["Type"]
        replacing = {p for p, props in reach.items() for r, prop in props
                     if r == rid and prop in create_only[type_]}  # fmt: skip
        assert replacing <= used or rid in in_description, (rid, replacing - used)
        if rid in in_description and type_ != LAYER:
            by_identity |= replacing  # recorded by the identity of what they replace
    assert by_identity == REPLACING  # the table's key names, by its stream label
    layers = {r for r in named_resources if template["Resources"][r]["Type"] == LAYER}
    assert layers
    record = {settings_record(template)}
    tables = {r for r in named_resources if r in in_description} - layers
    assert in_description == (used - by_identity) | layers | record | tables


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_the_description_starts_with_the_code_keys_sha256(template, spec):
    _, version = _version(template, spec)
    text, local = version["Properties"]["Description"]["Fn::Sub"]
    key = logical_id(spec.name, "code", "key")
    assert text.startswith(f"${{{key}Sha256}}{deployments.SEPARATOR}")
    stem = f"artifacts/{spec.name}-"  # what precedes the sha256 in the build's key
    assert local[f"{key}Sha256"] == {"Fn::Select": [0, {"Fn::Split": [".", {"Fn::Select": [
        1, {"Fn::Split": [stem, {"Ref": key}]}]}]}]}  # fmt: skip


SEEDS = sorted(p.stem for p in (ROOT / "docs" / "seeds").glob("*.json"))
VPC = {"VpcSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
       "VpcSecurityGroupIds": "sg-0123456789abcdef0"}  # fmt: skip


# parameter values -> (a stage file or seed, changes)
SOURCES = {
    **{stage: (ROOT / "params" / f"{stage}.json", {}) for stage in ("dev", "test", "prod")},
    "prod in a VPC": (ROOT / "params" / "prod.json", VPC),
    **{f"seed {s}": (ROOT / "docs" / "seeds" / f"{s}.json", {}) for s in SEEDS},
}


@pytest.mark.parametrize("source", SOURCES)
def test_every_description_fits_lambdas_limit(template, source):
    """Each stage file's and seed's actual values (test_aws_rules.py bounds any values)."""
    path, changes = SOURCES[source]
    values = {**json.loads(path.read_text()), **changes, **build_keys()}
    deployed = Deployed(template, {k: str(v) for k, v in values.items()})
    deployed.generations = {rid: 9999 for rid in resources_of_type(template, LAYER)}
    record = template["Resources"][settings_record(template)]["Properties"]["Description"]
    assert len(str(deployed.resolve(record))) <= DESCRIPTION_LIMIT
    for spec in FUNCTIONS:
        text = version_description(template, spec, deployed)
        assert len(text) <= DESCRIPTION_LIMIT, (spec.name, len(text), text)


@pytest.mark.parametrize("spec", FUNCTIONS[:1], ids=lambda s: s.name)
def test_no_input_can_hold_the_separator(template, spec):
    """Values joined by `|` are unambiguous only if no value can contain one."""
    values = {**stage_values(template, "prod"), **build_keys()}
    for name in sorted(_description_inputs(template, spec) & set(template["Parameters"])):
        parameter = template["Parameters"][name]
        assert not [v for v in parameter.get("AllowedValues", []) if "|" in str(v)], name
        if "AllowedPattern" in parameter:
            sample = str(values.get(name, parameter.get("Default", "")))
            for probe in (f"{sample}|", f"|{sample}", f"{sample[:1]}|{sample[1:]}"):
                assert not re.fullmatch(parameter["AllowedPattern"], probe), (name, probe)


# What moto creates (tools.local.moto_compat registers the alias; CodeDeploy stays skipped)


@pytest.mark.slow
def test_moto_creates_every_version_and_alias_and_the_callers_invoke_the_alias(template, aws_env):
    moto_compat.apply()
    with mock_aws():
        created = create_built_stack("canary", template, stage_values(template, "prod"), REGION)
        physical = created["physical"]
        cfn = boto3.client("cloudformation", region_name=REGION)
        lam = boto3.client("lambda", region_name=REGION)
        for spec in FUNCTIONS:
            name = physical[_fn_id(spec)]
            [alias] = lam.list_aliases(FunctionName=name)["Aliases"]
            assert (alias["Name"], alias["FunctionVersion"]) == (LIVE, "1")
            assert alias["AliasArn"] == physical[_alias(template, spec)[0]]
            assert physical[_version(template, spec)[0]] == f"{alias['AliasArn'][:-5]}:1"
        [mapping] = lam.list_event_source_mappings()["EventSourceMappings"]
        consumer = physical[logical_id("stream_audit", "function")]
        assert mapping["FunctionArn"].split(":")[6] == consumer
        cfn.delete_stack(StackName="canary")


# tools.local follows an alias (or a version) to its function


def _one(type_: str, **props: object) -> dict:
    return {"Type": type_, "Properties": props}


FOLLOWED = {
    "the function": ("Fn", "Fn"),
    "an alias by Ref": ("Live", "Fn"),
    "an alias by GetAtt Arn": ("LiveByArn", "Fn"),
    "a version": ("V1", "Fn"),
    "an alias of a version's function": ("LiveOfVersion", "Fn"),
    "a table": ("Table", None),
    "nothing": ("Missing", None),
    "a cycle": ("LoopA", None),
}
SMALL = {
    "Resources": {
        "Fn": _one("AWS::Lambda::Function", Handler="app.lambda_handler"),
        "V1": _one(VERSION, FunctionName={"Ref": "Fn"}),
        "Live": _one(ALIAS, FunctionName={"Ref": "Fn"}, Name=LIVE),
        "LiveByArn": _one(ALIAS, FunctionName={"Fn::GetAtt": ["Fn", "Arn"]}, Name=LIVE),
        "LiveOfVersion": _one(ALIAS, FunctionName={"Ref": "V1"}, Name=LIVE),
        "Table": _one("AWS::DynamoDB::Table"),
        "LoopA": _one(ALIAS, FunctionName={"Ref": "LoopB"}, Name=LIVE),
        "LoopB": _one(ALIAS, FunctionName={"Ref": "LoopA"}, Name=LIVE),
    }
}


@pytest.mark.parametrize("case", FOLLOWED)
def test_localapi_follows_an_alias_to_its_function(case):
    start, function = FOLLOWED[case]
    assert invoked_function(SMALL, start) == function
