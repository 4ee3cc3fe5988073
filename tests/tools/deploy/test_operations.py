"""The operator's commands against moto_server on loopback: make plan (new stack, no change, a
parameter change, the replacement gate), the drift stop and ADOPT, outputs, logs, and make
destroy with and without PURGE. Stage dev, its own moto_server (tests/conftest.py).

Parameter changes are planned from copies of params/ and dist/ and not executed here (the
executed updates, console edits included, are rehearsed in
tests/tools/deploy/test_operator_paths.py); moto reports no Replacement in change sets, so the
gate's reading of AWS's Replacement fields is tested in
tests/tools/deploy/test_operations_units.py."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from templates.catalog import FUNCTIONS
from templates.naming import logical_id
from tests import moto_server
from tests.cfn import ROOT
from tools.deploy import drift
from tools.deploy import logs as ops_logs

pytestmark = pytest.mark.slow  # make targets against moto_server

STAGE = "dev"
STACK = f"items-api-{STAGE}"
BUCKET = "items-api-local-test-artifacts"


def make(env: dict, target: str, stdin: str = "", **variables: str) -> subprocess.CompletedProcess:
    return moto_server.make(env, target, STAGE, stdin, ARTIFACT_BUCKET=BUCKET, **variables)


def deploy_py(env: dict, *args: str) -> subprocess.CompletedProcess:
    """The deploy CLI itself, for runs on copied inputs (make always uses params/ and dist/)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy", *args, "--stage", STAGE,
         "--region", moto_server.REGION, "--artifact-bucket", BUCKET],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def copied_inputs(tmp: Path, **changes: object) -> tuple[Path, Path]:
    """params/ and dist/ copied, with params/dev.json (and the built copy) changed."""
    params, dist = tmp / "params", tmp / "dist"
    shutil.copytree(ROOT / "params", params)
    shutil.copytree(ROOT / "dist", dist, ignore=shutil.ignore_patterns("deploy"))
    stage_file = params / f"{STAGE}.json"
    document = {**json.loads(stage_file.read_text()), **changes}
    stage_file.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    built_file = dist / "params" / f"{STAGE}.json"
    built = dict(line.split("=", 1) for line in json.loads(built_file.read_text()))
    built.update({k: str(v) for k, v in changes.items()})
    built_file.write_text(json.dumps([f"{k}={v}" for k, v in sorted(built.items())]))
    return params, dist


def cfn(env: dict):
    return moto_server.client(env, "cloudformation")


def stack_exists(env: dict, name: str = STACK) -> bool:
    try:
        status = cfn(env).describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except cfn(env).exceptions.ClientError:
        return False
    return status != "DELETE_COMPLETE"


def test_plan_on_a_new_stack_shows_every_resource_and_leaves_nothing(env):
    result = make(env, "plan")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"plan for {STACK} (CREATE):" in result.stdout
    table = logical_id("items", "table")
    assert any(line.split()[:3] == [table, "AWS::DynamoDB::Table", "Add"]
               for line in result.stdout.splitlines())  # fmt: skip
    assert not stack_exists(env)  # the change set and the empty REVIEW_IN_PROGRESS stack are gone


@pytest.fixture(scope="module")
def deployed(env) -> subprocess.CompletedProcess:
    result = make(env, "deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_deploy_plans_first_and_prints_the_stacks_events(deployed):
    out = deployed.stdout
    assert out.index(f"plan for {STACK} (CREATE):") < out.index("$ ")  # the gate ran first
    # moto records only the stack's own events for a change-set create (AWS adds one per
    # resource): the stack's CREATE_COMPLETE is printed after the command line.
    events = out[out.index("$ ") :].splitlines()
    assert any(STACK in e and "AWS::CloudFormation::Stack" in e and e.rstrip().endswith(
        "CREATE_COMPLETE") for e in events)  # fmt: skip


def test_the_deploy_records_what_it_deployed(env, deployed):
    s3 = moto_server.client(env, "s3")
    recorded = drift.read_record(s3, BUCKET, STACK)
    live = cfn(env).describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]
    assert recorded == {p["ParameterKey"]: p["ParameterValue"] for p in live}


def test_plan_against_the_live_stack_without_changes(env, deployed):
    result = make(env, "plan")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no resource changes" in result.stdout
    assert f"parameters: the live values equal params/{STAGE}.json" in result.stdout


def test_plan_shows_a_parameter_change(env, deployed, tmp_path):
    params, dist = copied_inputs(tmp_path, MemorySize=256)
    result = deploy_py(env, "plan", "--params-dir", str(params), "--dist", str(dist))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MemorySize: '128' -> '256'" in result.stdout


def test_the_gate_stops_a_key_change_unless_allowed(env, deployed, tmp_path):
    params, dist = copied_inputs(tmp_path, PartitionKeyName="pk")
    args = ("plan", "--params-dir", str(params), "--dist", str(dist))
    blocked = deploy_py(env, *args)
    assert blocked.returncode == 1
    assert "PartitionKeyName 'id' -> 'pk' replaces the table" in blocked.stderr
    assert "ALLOW_REPLACE=1" in blocked.stderr
    assert deploy_py(env, *args, "--allow-replace").returncode == 0
    refused = deploy_py(env, "deploy", "--params-dir", str(params), "--dist", str(dist))
    assert refused.returncode == 2 and "Nothing was changed" in refused.stderr
    s3 = moto_server.client(env, "s3")
    assert drift.read_record(s3, BUCKET, STACK)["PartitionKeyName"] == "id"


def test_a_console_edit_stops_the_deploy_and_adopt_takes_it(env, deployed, tmp_path):
    s3 = moto_server.client(env, "s3")
    recorded = drift.read_record(s3, BUCKET, STACK)
    # The console moved MemorySize from 256 (deployed from the file) to the live 128.
    drift.write_record(s3, BUCKET, STACK, {**recorded, "MemorySize": "256"})
    params, dist = copied_inputs(tmp_path, MemorySize=256)
    args = ("deploy", "--params-dir", str(params), "--dist", str(dist))
    stopped = deploy_py(env, *args)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    assert "MemorySize: live '128', last make deploy '256', file '256'" in stopped.stdout
    assert "changed outside make deploy" in stopped.stderr and "ADOPT=1" in stopped.stderr
    adopted = deploy_py(env, *args, "--adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    text = (params / f"{STAGE}.json").read_text()
    assert json.loads(text)["MemorySize"] == 128  # a number, as the files hold numbers
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert drift.read_record(s3, BUCKET, STACK)["MemorySize"] == "128"
    again = make(env, "deploy")  # the repo's file says 128 too: nothing to do
    assert again.returncode == 0 and "no changes" in again.stdout, again.stdout + again.stderr


def test_outputs(env, deployed):
    result = make(env, "outputs")
    assert result.returncode == 0 and f"{STACK}: CREATE_COMPLETE" in result.stdout


def test_logs_print_a_functions_log_events(env, deployed):
    logs = moto_server.client(env, "logs")
    group = ops_logs.log_group(cfn(env), STACK, "get_item")
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    event = {"timestamp": int(time.time() * 1000), "message": "hello log"}
    logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[event])
    result = deploy_py(env, "logs", "--fn", "get-item", "--no-follow")
    assert result.returncode == 0, result.stdout + result.stderr
    assert group in result.stdout and "hello log" in result.stdout


def test_logs_of_an_unknown_function_name_the_functions(env):
    result = make(env, "logs", FN="nope")
    assert result.returncode == 2
    assert "FN='nope' is not a function; functions are: health," in result.stderr


def test_destroy_needs_the_stack_name_typed(env, deployed):
    result = make(env, "destroy", stdin="items-api-prod\n")
    assert result.returncode == 2
    assert "'items-api-prod' is not 'items-api-dev': nothing deleted" in result.stderr
    assert stack_exists(env)


def test_purge_is_never_allowed_for_prod(env):
    result = moto_server.make(env, "destroy", "prod", YES="1", PURGE="1")
    assert result.returncode == 2 and "never allowed for prod" in result.stderr


def test_destroy_lists_what_it_retained(env, deployed):
    """Last for this stack: deletes it."""
    resources = cfn(env).describe_stack_resources(StackName=STACK)["StackResources"]
    physical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources}
    result = make(env, "destroy", stdin=f"{STACK}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not stack_exists(env)
    table = physical[logical_id("items", "table")]
    assert any(
        table in line and "AWS::DynamoDB::Table" in line for line in result.stdout.splitlines()
    )
    assert "PURGE=1 deletes them too" in result.stdout
    dynamodb = moto_server.client(env, "dynamodb")
    assert dynamodb.describe_table(TableName=table)["Table"]["TableName"] == table  # still there


def test_a_stage_deploys_again_after_destroy_and_keeps_the_old_data(env):
    """make deploy -> make destroy YES=1 -> make deploy reaches CREATE_COMPLETE: nothing the
    first stack retained has a name the second one needs (it failed with "The specified log
    group already exists" while the function log groups had fixed names). The first stack's
    table and log groups are still there afterwards, beside the new ones."""
    name = "items-api-dev-again"
    first = moto_server.make(env, "deploy", STAGE, ARTIFACT_BUCKET=BUCKET, STACK_NAME=name)
    assert first.returncode == 0, first.stdout + first.stderr
    resources = cfn(env).describe_stack_resources(StackName=name)["StackResources"]
    stateful = ("AWS::Logs::LogGroup", "AWS::DynamoDB::Table")
    kept = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
            if r.get("ResourceType") in stateful}  # fmt: skip
    assert len(kept) > len(FUNCTIONS)
    gone = moto_server.make(env, "destroy", STAGE, YES="1", STACK_NAME=name)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    again = moto_server.make(env, "deploy", STAGE, ARTIFACT_BUCKET=BUCKET, STACK_NAME=name)
    assert again.returncode == 0, again.stdout + again.stderr
    stack = cfn(env).describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resources = cfn(env).describe_stack_resources(StackName=name)["StackResources"]
    new = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources}
    assert all(new[rid] != old for rid, old in kept.items())
    groups = moto_server.client(env, "logs").describe_log_groups()["logGroups"]
    names = {g["logGroupName"] for g in groups}
    assert {v for k, v in kept.items() if "LogGroup" in k} <= names
    tables = moto_server.client(env, "dynamodb").list_tables()["TableNames"]
    assert {v for k, v in kept.items() if k.endswith("Table")} <= set(tables)


def test_destroy_with_purge_deletes_the_retained_data(env):
    name = "items-api-dev-purge"
    created = moto_server.make(env, "deploy", STAGE, ARTIFACT_BUCKET=BUCKET, STACK_NAME=name)
    assert created.returncode == 0, created.stdout + created.stderr
    resources = cfn(env).describe_stack_resources(StackName=name)["StackResources"]
    physical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") for r in resources}
    bucket = physical[logical_id("items", "bucket")]
    s3 = moto_server.client(env, "s3")
    s3.put_object(Bucket=bucket, Key="items/x/1", Body=b"one")
    s3.put_object(Bucket=bucket, Key="items/x/1", Body=b"two")  # a second version
    result = moto_server.make(env, "destroy", STAGE, YES="1", PURGE="1", STACK_NAME=name)
    assert result.returncode == 0, result.stdout + result.stderr
    dynamodb = moto_server.client(env, "dynamodb")
    tables = dynamodb.list_tables()["TableNames"]
    assert physical[logical_id("items", "table")] not in tables
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    groups = {g["logGroupName"] for g in moto_server.client(env, "logs").describe_log_groups()[
        "logGroups"]}  # fmt: skip
    own = [physical[logical_id(f.name, "log", "group")] for f in FUNCTIONS]
    assert own and not groups & set(own)
    key = moto_server.client(env, "kms").describe_key(KeyId=physical[logical_id("data", "key")])
    assert key["KeyMetadata"]["KeyState"] == "PendingDeletion"
