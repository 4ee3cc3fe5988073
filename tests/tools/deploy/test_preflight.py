"""`make preflight` (tools.deploy.preflight): the API Gateway CloudWatch role, Lambda concurrency,
names that exist already, and name lengths (offline), each refusal with its numbers and fix.

The checks run against moto in-process (moto_compat gives its Lambda GetAccountSettings); the
make targets against moto_server. moto enforces none of these AWS rules itself (its Stage
logs without a role, its names may be any length), so each test that encodes one cites the AWS
documentation of the rule. Names, counts and limits are read from the template, never listed."""

import copy
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import checkout, moto_server
from tests.cfn import ROOT, create_built_stack, resources_of_type
from tools.deploy import cli as deploy
from tools.deploy import preflight
from tools.deploy.preflight import RULES, Names, PreflightError, derived_names
from tools.deploy.stage_params import stage_values
from tools.local import moto_compat

REGION = "us-west-2"
CONCURRENCY_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
LOGGING_DOC = "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"


@pytest.fixture(scope="module")
def built() -> dict:
    """dist/template.json: what make deploy deploys (and create_built_stack creates)."""
    path = ROOT / "dist" / "template.json"
    if not path.exists():
        pytest.fail("dist/ is not built: run `make template`")
    return json.loads(path.read_text())


@pytest.fixture
def aws(aws_env) -> Any:
    """moto in-process, with the compat patches: a boto3 session on it."""
    moto_compat.apply()
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def values_for(template: dict, stage: str, **changes: object) -> dict[str, str]:
    """params/<stage>.json's values (none for a small template without parameters)."""
    given = stage_values(template, stage) if "Parameters" in template else {}
    return {**given, **{k: str(v) for k, v in changes.items()}}


def run(template: dict, session: Any, stage: str = "dev", stack: str | None = None,
        **changes: object) -> tuple[list[str], list[str]]:  # fmt: skip
    """preflight.run: (warnings, printed lines); raises PreflightError."""
    lines: list[str] = []
    warnings = preflight.run(
        template, stack or f"items-api-{stage}", REGION, values_for(template, stage, **changes),
        f"params/{stage}.json", stage, out=lines.append, session=session,
    )  # fmt: skip
    return warnings, lines


def refused(template: dict, session: Any, **kwargs: Any) -> str:
    with pytest.raises(PreflightError) as error:
        run(template, session, **kwargs)
    return str(error.value)


def give_role(session: Any, name: str = "apigw-logs") -> str:
    iam = session.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    session.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )
    return arn


def functions_of(template: dict, values: dict[str, str]) -> list[str]:
    """The functions this stage creates (their Condition, evaluated)."""
    names = Names(template, "s", REGION, values)
    return [f for f in resources_of_type(template, "AWS::Lambda::Function") if names.created(f)]


def reserving(template: dict) -> list[str]:
    """The dev functions whose reservation follows ReservedConcurrency (the API deployment's
    function reserves none)."""
    created = functions_of(template, values_for(template, "dev"))
    return [
        f
        for f in created
        if "ReservedConcurrentExecutions" in template["Resources"][f]["Properties"]
    ]


# Resolution: the names are the ones CloudFormation gives


@pytest.mark.slow
def test_every_fixed_name_is_the_physical_id_cloudformation_gives(built, aws):
    """moto's CloudFormation creates dist/template.json: each fixed name preflight derives is
    the physical ID of its resource (where moto makes that type and its ID is the name)."""
    values = values_for(built, "dev")
    made = create_built_stack("items-api-dev", built, values, REGION)["physical"]
    names = derived_names(Names(built, "items-api-dev", REGION, values))
    compared = {
        n.logical_id: (n.text, made[n.logical_id])
        for n in names
        if n.fixed and n.rule.ref == "{name}" and made.get(n.logical_id)
    }
    assert set(functions_of(built, values)) <= set(compared), "no function compared"
    assert all(name == physical for name, physical in compared.values()), compared


def _with(resources: dict, **parameters: str) -> dict:
    return {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev"},
            **{k: {"Type": "String", "Default": v} for k, v in parameters.items()},
        },
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": resources,
    }


FN = {
    "Type": "AWS::Lambda::Function",
    "Properties": {"FunctionName": {"Fn::Sub": "${AWS::StackName}-f"}},
}
API = {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "x"}}


def _group(name: object, **others: dict) -> dict:
    return {"It": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name}}, **others}


# (case, resources, expected text, fixed, expected length or None)
RESOLVED = [
    ("sub", _group({"Fn::Sub": "/a/${AWS::StackName}-${Stage}"}), "/a/s-dev", True, 8),
    ("join", _group({"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, {"Ref": "AWS::Region"}]]}),
     f"s-{REGION}", True, 2 + len(REGION)),
    ("if", _group({"Fn::If": ["IsProd", "p", {"Fn::Sub": "${AWS::StackName}-np"}]}),
     "s-np", True, 4),
    ("sub list", _group({"Fn::Sub": ["${A}/x", {"A": {"Ref": "AWS::AccountId"}}]}),
     f"{preflight.ACCOUNT}/x", True, 14),
    ("ref to a named function", _group({"Fn::Sub": "/aws/lambda/${Fn}"}, Fn=FN),
     "/aws/lambda/s-f", True, 15),
    ("ref to an API id", _group({"Fn::Sub": "API-Gateway-Execution-Logs_${Api}/${Stage}"},
                                Api=API),
     "API-Gateway-Execution-Logs_<Api id>/dev", False, 27 + 10 + 4),
    ("ref to an unnamed function", _group({"Fn::Sub": "/aws/lambda/${Fn}"},
                                          Fn={"Type": "AWS::Lambda::Function"}),
     "/aws/lambda/<Fn name>", False, 12 + 64),
    ("an attribute", _group({"Fn::Sub": "/x/${Fn.Arn}"}, Fn=FN), "/x/<Fn.Arn>", False, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "resources", "text", "fixed", "length"), RESOLVED, ids=[r[0] for r in RESOLVED]
)
def test_names_resolve_as_cloudformation_would(case, resources, text, fixed, length):
    [name] = [n for n in derived_names(Names(_with(resources), "s", REGION, {}))
              if n.logical_id == "It"]  # fmt: skip
    assert (name.text, name.fixed, name.length()) == (text, fixed, length)


def test_a_resource_the_stage_does_not_create_is_not_checked(aws):
    template = _with({"It": {**FN, "Condition": "IsProd"}})
    assert derived_names(Names(template, "s", REGION, {})) == []
    assert [n.text for n in derived_names(Names(template, "s", REGION, {"Stage": "prod"}))] == [
        "s-f"
    ]


# API Gateway's CloudWatch role


def _no_role(session: Any) -> None:
    pass


def _deleted_role(session: Any) -> None:
    give_role(session, "gone-role")
    session.client("iam").delete_role(RoleName="gone-role")


# (case, account setup, CreateApiGatewayAccountRole, outcome, words)
ROLE_CASES = [
    ("no role, not created", _no_role, "false", "refused",
     ["CreateApiGatewayAccountRole", "params/dev.json", '"true"', "update-account",
      preflight.LOGGING_ERROR, LOGGING_DOC]),
    ("no role, the stack sets one", _no_role, "true", "passes", ["none yet"]),
    ("a role", give_role, "false", "passes", ["(exists)"]),
    ("a role, and the stack sets its own", give_role, "true", "warns",
     ["would replace", "CreateApiGatewayAccountRole to false in params/dev.json"]),
    ("a deleted role", _deleted_role, "false", "refused",
     ["gone-role", "no role gone-role any more", "update-account",
      "CreateApiGatewayAccountRole", "params/dev.json"]),
    ("a deleted role, the stack sets its own", _deleted_role, "true", "passes",
     ["no longer exists"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "setup", "create", "outcome", "words"), ROLE_CASES, ids=[c[0] for c in ROLE_CASES]
)
def test_the_cloudwatch_role(built, aws, case, setup, create, outcome, words):
    """Access and execution logging need the account's CloudWatch role in the region, else
    the Stage fails ("CloudWatch Logs role ARN must be set in account settings to enable
    logging") and the stack rolls back; moto's Stage does not care:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"""
    setup(aws)
    if outcome == "refused":
        text = refused(built, aws, CreateApiGatewayAccountRole=create)
    else:
        warnings, lines = run(built, aws, CreateApiGatewayAccountRole=create)
        text = "\n".join(lines)
        assert bool(warnings) == (outcome == "warns"), text
    assert all(w in text for w in words), text


@pytest.mark.slow
def test_a_role_set_by_this_stack_is_no_warning(built, aws):
    """The live stack owns the account setting: deploying it again changes nothing."""
    values = values_for(built, "dev", CreateApiGatewayAccountRole="true")
    physical = create_built_stack("items-api-dev", built, values, REGION)["physical"]
    [account] = resources_of_type(built, "AWS::ApiGateway::Account")
    role_id = built["Resources"][account]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert physical.get(role_id), "moto made no role for the account setting"
    _set_role(aws, physical[role_id])
    warnings, lines = run(built, aws, CreateApiGatewayAccountRole="true")
    assert warnings == [] and any("(exists)" in line for line in lines), lines


def _set_role(session: Any, name: str) -> None:
    arn = session.client("iam").get_role(RoleName=name)["Role"]["Arn"]
    session.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )


def _stage_logs(template: dict, access: bool) -> dict:
    """The template with its stages' access log setting kept or removed."""
    changed = copy.deepcopy(template)
    for stage in resources_of_type(changed, "AWS::ApiGateway::Stage"):
        if not access:
            changed["Resources"][stage]["Properties"].pop("AccessLogSetting", None)
    return changed


@pytest.mark.parametrize(
    ("access", "level", "needed"),
    [(False, "OFF", False), (True, "OFF", True), (False, "ERROR", True), (False, "INFO", True)],
)
def test_the_role_is_needed_only_when_a_stage_logs(built, aws, access, level, needed):
    """Both access logging and execution logging need the role; a stage without either does
    not: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"""
    template = _stage_logs(built, access)
    if needed:
        assert "no CloudWatch role" in refused(template, aws, ApiLoggingLevel=level)
    else:
        _, lines = run(template, aws, ApiLoggingLevel=level)
        assert any("CloudWatch role: not needed" in line for line in lines), lines


# Lambda concurrency


def _function(session: Any, name: str, reserved: int) -> None:
    """A function outside the stack, with its own reservation."""
    role = session.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return None\n")
    lam = session.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role["Role"]["Arn"],
                        Handler="app.handler", Code={"ZipFile": code.getvalue()})  # fmt: skip
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def test_moto_answers_get_account_settings_from_its_functions(aws, monkeypatch):
    """tools.local.moto_compat's GetAccountSettings: the quota less every reservation."""
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")
    lam = aws.client("lambda")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    _function(aws, "other", 120)
    limits = lam.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (1000, 880)


# (case, account limit, reserved by other functions for n functions, ReservedConcurrency,
# passes): the boundary is exactly 100 left unreserved.
CONCURRENCY: list[tuple[str, int, Callable[[int], int], int, bool]] = [
    ("a new account's limit of 10", 10, lambda n: 0, 1, False),
    ("exactly 100 stay unreserved", 1000, lambda n: 900 - 5 * n, 5, True),
    ("one execution too many", 1000, lambda n: 901 - 5 * n, 5, False),
    ("the next value up", 1000, lambda n: 900 - 5 * n, 6, False),
    ("nothing reserved", 10, lambda n: 0, 0, True),
]


@pytest.mark.parametrize(
    ("case", "limit", "others_for", "per", "passes"), CONCURRENCY, ids=[c[0] for c in CONCURRENCY]
)
def test_reserved_concurrency_leaves_100_unreserved(
    built, aws, monkeypatch, case, limit, others_for, per, passes
):
    """Lambda keeps at least 100 concurrent executions unreserved in an account: a function
    whose reservation would go below fails, and the stack rolls back. moto does not apply it to
    CloudFormation: https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"""
    give_role(aws)
    n = len(reserving(built))
    others = others_for(n)
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", str(limit))
    if others:
        _function(aws, "someone-elses", others)
    left = limit - others - n * per
    if passes:
        _, lines = run(built, aws, ReservedConcurrency=per)
        expected = f"= {left} stay unreserved" if per else "nothing reserved"
        assert any(expected in line for line in lines), lines
        return
    text = refused(built, aws, ReservedConcurrency=per)
    for words in (f"account limit {limit}", f"other functions reserve {others}",
                  f"{n} functions x {per} = {n * per}", f"= {left} stay unreserved",
                  "fewer than the 100", CONCURRENCY_DOC,
                  f'"ReservedConcurrency" to at most {max(0, (limit - others - 100) // n)} in '
                  "params/dev.json", f"--desired-value {others + n * per + 100}"):  # fmt: skip
        assert words in text, (case, text)


@pytest.mark.slow
def test_this_stacks_own_reservations_are_not_counted_twice(built, aws, monkeypatch):
    """An update: the live stack's functions already reserve what the stage asks; they are
    replaced, not added (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
    The same ask for a new stack beside it does not fit."""
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")
    n = len(reserving(built))
    per = 900 // n  # the live stack leaves 1000 - n x per >= 100
    give_role(aws)
    values = values_for(built, "dev", ReservedConcurrency=per)
    create_built_stack("items-api-dev", built, values, REGION)
    unreserved = aws.client("lambda").get_account_settings()["AccountLimit"]
    assert unreserved["UnreservedConcurrentExecutions"] == 1000 - n * per  # moto reserved them
    _, lines = run(built, aws, ReservedConcurrency=per)
    assert any(f"the {n * per} its live functions reserve now counted once" in line
               for line in lines), lines  # fmt: skip
    text = refused(built, aws, stack="items-api-beside", ReservedConcurrency=per)
    assert f"other functions reserve {n * per}" in text


# Names that exist already


def _role_arn(session: Any) -> str:
    iam = session.client("iam")
    try:
        return iam.get_role(RoleName="maker")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="maker", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def _make_function(session: Any, name: str) -> None:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return None\n")
    session.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=_role_arn(session), Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )  # fmt: skip


def _make_alarm(session: Any, name: str) -> None:
    session.client("cloudwatch").put_metric_alarm(
        AlarmName=name, MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip


def _make_alias(session: Any, name: str) -> None:
    kms = session.client("kms")
    kms.create_alias(AliasName=name, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])


MAKERS: dict[str, tuple[Callable[[Any, str], None], str]] = {
    # Rule.check -> (how to make one by hand, a name pattern of that type)
    "lambda": (_make_function, "{stack}-it"),
    "logs": (lambda s, n: s.client("logs").create_log_group(logGroupName=n), "/test/{stack}/it"),
    "alarm": (_make_alarm, "{stack}-it"),
    "dashboard": (lambda s, n: s.client("cloudwatch").put_dashboard(
        DashboardName=n, DashboardBody='{"widgets": []}'), "{stack}-it"),
    "role": (lambda s, n: s.client("iam").create_role(
        RoleName=n, AssumeRolePolicyDocument="{}"), "{stack}-it"),
    "queue": (lambda s, n: s.client("sqs").create_queue(QueueName=n), "{stack}-it"),
    "topic": (lambda s, n: s.client("sns").create_topic(Name=n), "{stack}-it"),
    "table": (lambda s, n: s.client("dynamodb").create_table(
        TableName=n, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}]), "{stack}-it"),
    "bucket": (lambda s, n: s.client("s3").create_bucket(
        Bucket=n, CreateBucketConfiguration={"LocationConstraint": REGION}), "{stack}-it"),
    "kms-alias": (_make_alias, "alias/{stack}/it"),
    "codedeploy": (lambda s, n: s.client("codedeploy").create_application(
        applicationName=n, computePlatform="Lambda"), "{stack}-it"),
    "domain": (lambda s, n: s.client("apigateway").create_domain_name(
        domainName=n, endpointConfiguration={"types": ["REGIONAL"]}), "{stack}-it.example.com"),
}  # fmt: skip
CHECKED = sorted((t, r) for t, r in RULES.items() if r.check)


def test_every_existence_check_can_be_played():
    assert {r.check for _, r in CHECKED} == set(MAKERS)


@pytest.mark.parametrize("exists", [True, False], ids=["exists", "free"])
@pytest.mark.parametrize(("type_", "rule"), CHECKED, ids=[t for t, _ in CHECKED])
def test_a_name_that_exists_is_refused_with_its_fix(aws, type_, rule, exists):
    """A custom name must be free: CloudFormation fails a named resource whose name exists
    already and rolls the stack back:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html"""
    make, pattern = MAKERS[rule.check or ""]
    name = pattern.format(stack="pf-test")
    template = {"Resources": {"It": {"Type": type_, "Properties": {
        rule.prop: {"Fn::Sub": pattern.format(stack="${AWS::StackName}")}}}}}  # fmt: skip
    if exists:
        make(aws, name)
        text = refused(template, aws, stack="pf-test")
        fix = rule.delete.format(name=name, region=REGION, partition="aws")
        for words in (f"{type_} It: {name}", fix, "already exist", "PURGE=1", "STACK_NAME"):
            assert words in text, text
    else:
        _, lines = run(template, aws, stack="pf-test")
        assert any("names: none of 1 checked exists" in line for line in lines), lines


def test_names_of_the_template_taken_by_hand_are_all_listed(built, aws):
    """A function and an alarm made by hand with the names the stack would use are both
    listed, in one refusal, each with its delete command (custom names must be free:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html)."""
    give_role(aws)
    names = [n for n in derived_names(Names(built, "items-api-dev", REGION,
                                            values_for(built, "dev"))) if n.fixed]  # fmt: skip
    function = next(n for n in names if n.resource_type == "AWS::Lambda::Function")
    alarm = next(n for n in names if n.resource_type == "AWS::CloudWatch::Alarm")
    _make_function(aws, function.text)
    _make_alarm(aws, alarm.text)
    text = refused(built, aws)
    assert text.startswith("preflight refused (1)")
    assert "2 names this stack would create already exist" in text
    assert f"{function.logical_id}: {function.text}" in text
    assert f"aws cloudwatch delete-alarms --alarm-names {alarm.text}" in text
    assert "make destroy STAGE=dev PURGE=1" in text


def test_names_held_by_the_live_stack_are_no_collision_but_another_stacks_are(aws):
    """A stack's own names are its own (an update); the same name in another stack is not:
    "Resource names must be unique across all your active stacks",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html"""
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                        "Properties": {"QueueName": "shared-queue"}}}}  # fmt: skip
    aws.client("cloudformation").create_stack(StackName="first", TemplateBody=json.dumps(template))
    _, lines = run(template, aws, stack="first")
    assert any("1 held by it" in line for line in lines), lines
    assert "AWS::SQS::Queue Queue: shared-queue" in refused(template, aws, stack="second")


# Name lengths: offline


def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing boto3 or botocore now fails: no AWS call can be made."""
    for module in ("boto3", "botocore", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, module, None)


def _longest_fitting(template: dict, stage: str) -> int:
    values = values_for(template, stage)
    names = derived_names(Names(template, "s", REGION, values))
    return min([preflight.STACK_NAME_LIMIT] + [
        f for f in (n.longest_stack_name() for n in names) if f is not None])  # fmt: skip


def test_the_longest_stack_name_is_within_the_function_name_limit(built):
    """A function name has at most 64 characters (name only, not an ARN):
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html; so the reported
    longest STACK_NAME is at most 64 less each `${AWS::StackName}-...` function's suffix."""
    subs = [r["Properties"]["FunctionName"].get("Fn::Sub")
            for r in resources_of_type(built, "AWS::Lambda::Function").values()]  # fmt: skip
    suffixes = [s.replace("${AWS::StackName}", "") for s in subs if isinstance(s, str)]
    assert suffixes, "no function is named after the stack"
    assert _longest_fitting(built, "dev") <= 64 - max(len(s) for s in suffixes)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_too_long_stack_name_is_refused_before_any_aws_call(built, monkeypatch, capsys, stage):
    """Every derived name within its AWS limit (FunctionName 64:
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html, AlarmName 255:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
    ...): the longest STACK_NAME that fits passes the length check, one more character is
    refused, offline, with the worst name, its length and its limit."""
    fits = _longest_fitting(built, stage)
    names = Names(built, "a" * fits, REGION, values_for(built, stage))
    assert preflight.length_refusals(names, derived_names(names), "params/x.json") == []
    _no_aws(monkeypatch)
    code = deploy.main(["preflight", "--stage", stage, "--stack-name", "a" * (fits + 1)])
    err = capsys.readouterr().err
    assert code == 2, err
    worst = max((n for n in derived_names(Names(built, "a" * (fits + 1), REGION,
                                                values_for(built, stage)))
                 if n.rule.limit and (n.length() or 0) > n.rule.limit),
                key=lambda n: (n.length() or 0) - (n.rule.limit or 0))  # fmt: skip
    for words in (f"The longest for its limit: {worst.text!r}, {worst.length()} characters, "
                  f"limit {worst.rule.limit}", f"fits every name: {fits} characters",
                  f"STACK_NAME=<at most {fits} characters>", worst.rule.doc):  # fmt: skip
        assert words in err, err


@pytest.mark.parametrize("stack", ["1items", "items_api", "items-api-" + "x" * 120])
def test_a_stack_name_cloudformation_refuses_is_refused_offline(built, monkeypatch, capsys, stack):
    """A stack name: a letter, then letters, digits and hyphens, at most 128 characters:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html"""
    _no_aws(monkeypatch)
    assert deploy.main(["preflight", "--stage", "dev", "--stack-name", stack]) == 2
    assert "is not a CloudFormation stack name" in capsys.readouterr().err


LIMITED = sorted((t, r) for t, r in RULES.items() if r.limit)


@pytest.mark.parametrize(("type_", "rule"), LIMITED, ids=[t for t, _ in LIMITED])
def test_each_limit_is_the_documented_one(type_, rule):
    """Each limit comes from the AWS page the table names, and is never looser than
    CloudFormation's own resource schema (cfn-lint's copy) where that has a maxLength."""
    from tests.cfn import _schemas

    assert rule.doc.startswith("https://docs.aws.amazon.com/"), rule
    [schema] = [s for s in _schemas() if s["typeName"] == type_]
    most = schema["properties"][rule.prop].get("maxLength")
    assert most is None or rule.limit <= most, (rule.limit, most)


@pytest.mark.parametrize("over", [0, 1], ids=["at the limit", "one over"])
@pytest.mark.parametrize(("type_", "rule"), LIMITED, ids=[t for t, _ in LIMITED])
def test_each_name_is_held_to_its_limit(type_, rule, over):
    """A name of exactly the limit passes, one character more is refused, naming the limit and
    the page that documents it (the table's doc)."""
    stack = "s"
    pad = "x" * ((rule.limit or 0) - len(stack) + over)
    template = {"Resources": {"It": {"Type": type_, "Properties": {
        rule.prop: {"Fn::Sub": "${AWS::StackName}" + pad}}}}}  # fmt: skip
    names = Names(template, stack, REGION, {})
    refusals = preflight.length_refusals(names, derived_names(names), "params/dev.json")
    if not over:
        assert refusals == []
        return
    [text] = refusals
    assert f"is {rule.limit + 1} characters, limit {rule.limit} ({rule.doc})" in text


def test_a_long_name_not_made_of_the_stack_name_names_its_parameter():
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": {"Ref": "Label"}}}
    template = _with({"It": alarm}, Label="x" * 256)
    names = Names(template, "s", REGION, {})
    [text] = preflight.length_refusals(names, derived_names(names), "params/dev.json")
    assert "does not contain STACK_NAME: shorten Label in params/dev.json" in text


# The make targets, against moto_server


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Any:
    """A moto_server of its own whose account has no CloudWatch role, as a new account."""
    server, endpoint = moto_server.start(tmp_path_factory.mktemp("bare") / "server.log")
    yield moto_server.environment(endpoint)
    server.terminate()
    server.wait(timeout=10)


CHANGES = ("plan for", "created artifact bucket", "uploaded ", "$ ")


@pytest.mark.slow
@pytest.mark.parametrize("target", ["preflight", "plan", "deploy"])
def test_make_stops_on_a_refusal_before_anything_is_made(bare, target):
    """No CloudWatch role in a new account and CreateApiGatewayAccountRole=false in dev: make
    refuses, naming the parameter and the file, before any bucket, upload or change set
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html)."""
    result = moto_server.make(bare, target, "dev")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "preflight items-api-dev" in result.stdout
    assert "CreateApiGatewayAccountRole" in result.stderr and "params/dev.json" in result.stderr
    assert not any(words in result.stdout for words in CHANGES), result.stdout
    assert moto_server.client(bare, "s3").list_buckets()["Buckets"] == []
    stacks = moto_server.client(bare, "cloudformation").list_stacks()["StackSummaries"]
    assert stacks == []


def _offline_env() -> dict[str, str]:
    """AWS pointed at a closed port without credentials: any AWS call would fail with
    another error than the refusal."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    return {**base, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": REGION,
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("target", ["preflight", "plan", "deploy"])
def test_make_refuses_a_too_long_stack_name_offline(built, target):
    fits = _longest_fitting(built, "dev")
    checkout.ensure_built()
    result = subprocess.run(
        ["make", "--no-print-directory", target, "STAGE=dev", f"REGION={REGION}",
         f"STACK_NAME={'a' * (fits + 1)}"],
        cwd=ROOT, env=_offline_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"fits every name: {fits} characters" in result.stderr
    assert "Traceback" not in result.stderr and "preflight a" not in result.stdout


@pytest.mark.slow
def test_make_preflight_passes_once_the_account_has_a_role(env):
    result = moto_server.make(env, "preflight", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "API Gateway CloudWatch role: arn:aws:iam::" in result.stdout
    assert "preflight: passed" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("target", ["plan", "deploy"])
def test_make_plan_and_deploy_run_preflight_first(env, target):
    result = moto_server.make(env, target, "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    first = out.index("preflight: passed")
    assert out.index("preflight items-api-dev") < first < out.index("plan for items-api-dev")
    if target == "deploy":
        assert first < out.index("$ ")
