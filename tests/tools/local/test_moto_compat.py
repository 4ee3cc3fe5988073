"""tools.local.moto_compat's CloudFormation patches, proven on moto: custom resources run in-process
(a small handler written here, its zip in moto's S3; in mock_aws and through moto_server), and
updates of our own stack (dist/template.json with dist/params/test.json)."""

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import cfn
from tests import moto_server as moto_helpers
from tools.deploy.stack_policy import STATEFUL_TYPES
from tools.deploy.stage_params import stage_values
from tools.local import moto_compat
from tools.local import stack as local_stack

REGION = "us-west-2"
CODE_BUCKET = "custom-resource-code"
RECORDS = "custom-resource-requests"  # the handler writes each request it gets here
LOCATION = {"LocationConstraint": REGION}

# A custom resource handler as one is written for AWS: answers with a PUT to the ResponseURL,
# arms a SIGALRM watchdog (moto_server runs it in a request thread), and records each request
# in S3 (so its boto3 calls must land in the same moto).
HANDLER = """
import json
import os
import signal
import time
import urllib.request

import boto3


def lambda_handler(event, context):
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        answer = handle(event, context)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    request = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT",
        headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=5).close()


def handle(event, context):
    props = event["ResourceProperties"]
    record = {
        "event": event,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_stream": context.log_stream_name,
        "request_id": context.aws_request_id,
        "function": context.function_name,
        "region": os.environ["AWS_REGION"],
        "default_region": os.environ["AWS_DEFAULT_REGION"],
    }
    key = f"{time.time_ns()}-{event['LogicalResourceId']}-{event['RequestType']}.json"
    boto3.client("s3").put_object(Bucket=os.environ["RECORDS"], Key=key, Body=json.dumps(record))
    deleting = event["RequestType"] == "Delete"
    behaviour = props.get("Behaviour")
    if behaviour == "fail-delete" or deleting:
        behaviour = "fail" if behaviour == "fail-delete" and deleting else "succeed"
    if behaviour == "raise":
        raise RuntimeError("the handler broke")
    physical = (event["PhysicalResourceId"] if event["RequestType"] == "Delete"
                else f"thing-{props['Name']}")
    return {
        "Status": "FAILED" if behaviour == "fail" else "SUCCESS",
        "Reason": f"told to fail ({props['Name']})" if behaviour == "fail" else "",
        "PhysicalResourceId": physical,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Greeting": f"{os.environ['GREETING']} {props['Name']}"},
    }
"""


def handler_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as code:
        code.writestr("app.py", HANDLER)
    return out.getvalue()


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}  # fmt: skip
# Thing: a Custom:: type; Echo: AWS::CloudFormation::CustomResource, with a property that is
# Thing's GetAtt (so it is updated when Thing's answer changes).
TEMPLATE = {
    "Parameters": {
        "Name": {"Type": "String"},
        "Behaviour": {"Type": "String", "Default": "succeed"},
    },
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": LAMBDA_TRUST},
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "app.lambda_handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": 30,
                "Code": {"S3Bucket": CODE_BUCKET, "S3Key": "handler.zip"},
                "Environment": {"Variables": {"RECORDS": RECORDS, "GREETING": "hello"}},
            },
        },
        "Thing": {
            "Type": "Custom::Thing",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]},
                "Name": {"Ref": "Name"},
                "Behaviour": {"Ref": "Behaviour"},
                "Count": 3,
                "Enabled": True,
            },
        },
        "Echo": {
            "Type": "AWS::CloudFormation::CustomResource",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]},
                "Name": "echo",
                "Upstream": {"Fn::GetAtt": ["Thing", "Greeting"]},
            },
        },
    },
    "Outputs": {
        "ThingId": {"Value": {"Ref": "Thing"}},
        "Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}},
        "EchoGreeting": {"Value": {"Fn::GetAtt": ["Echo", "Greeting"]}},
    },
}
STACK = "custom-resources"


def prepare(session: Any) -> None:
    """The handler's code in S3 (as a deploy uploads it) and the bucket it records into."""
    s3 = session.client("s3")
    for bucket in (CODE_BUCKET, RECORDS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=LOCATION)
    s3.put_object(Bucket=CODE_BUCKET, Key="handler.zip", Body=handler_zip())


def create(session: Any, name: str = "one", behaviour: str = "succeed") -> dict:
    client = session.client("cloudformation")
    client.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE), Parameters=[
        {"ParameterKey": "Name", "ParameterValue": name},
        {"ParameterKey": "Behaviour", "ParameterValue": behaviour}])  # fmt: skip
    return client.describe_stacks(StackName=STACK)["Stacks"][0]


def update(session: Any, name: str, behaviour: str = "succeed") -> dict:
    client = session.client("cloudformation")
    client.update_stack(StackName=STACK, UsePreviousTemplate=True, Parameters=[
        {"ParameterKey": "Name", "ParameterValue": name},
        {"ParameterKey": "Behaviour", "ParameterValue": behaviour}])  # fmt: skip
    return client.describe_stacks(StackName=STACK)["Stacks"][0]


def requests_made(session: Any) -> list[dict]:
    """What the handler recorded, oldest first."""
    s3 = session.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=RECORDS).get("Contents", []))
    return [json.loads(s3.get_object(Bucket=RECORDS, Key=k)["Body"].read()) for k in keys]


def kinds(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["event"]["LogicalResourceId"], r["event"]["RequestType"]) for r in records]


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def physical_ids(session: Any, stack_name: str) -> dict[str, str]:
    pages = session.client("cloudformation").get_paginator("list_stack_resources")
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in pages.paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
        if r["LogicalResourceId"]  # moto lists the types it skips with an empty ID
    }


def resource_events(session: Any, stack_name: str) -> list[dict]:
    """The stack's events, oldest first."""
    events = session.client("cloudformation").describe_stack_events(StackName=stack_name)
    return list(reversed(events["StackEvents"]))


@pytest.fixture
def aws(aws_env) -> Any:
    """moto in-process with the compat patches, the handler's code uploaded."""
    moto_compat.apply()
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        prepare(session)
        yield session


# --- custom resources, in-process ------------------------------------------------------------


def test_create_runs_the_handler_in_process_and_its_answer_makes_the_resource(aws):
    stack = create(aws)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {"ThingId": "thing-one", "Greeting": "hello one",
                              "EchoGreeting": "hello echo"}  # fmt: skip
    physical = physical_ids(aws, STACK)
    assert (physical["Thing"], physical["Echo"]) == ("thing-one", "thing-echo")
    records = requests_made(aws)
    assert kinds(records) == [("Thing", "Create"), ("Echo", "Create")]
    thing, echo = records
    event = thing["event"]
    function_arn = aws.client("lambda").get_function(FunctionName=physical["Function"])
    assert event["ResourceProperties"] == {
        "ServiceToken": function_arn["Configuration"]["FunctionArn"],
        "Name": "one", "Behaviour": "succeed", "Count": "3", "Enabled": "true",
    }  # fmt: skip
    assert event["ResourceType"] == "Custom::Thing"
    assert event["StackId"] == stack["StackId"]
    assert event["ResponseURL"].startswith("http://127.0.0.1:")
    assert "PhysicalResourceId" not in event and "OldResourceProperties" not in event
    assert echo["event"]["ResourceType"] == "AWS::CloudFormation::CustomResource"
    assert echo["event"]["ResourceProperties"]["Upstream"] == "hello one"  # Thing's GetAtt
    assert 0 < thing["remaining_ms"] <= 30_000  # the function's Timeout
    assert thing["function"] == physical["Function"] and thing["request_id"] != event["RequestId"]
    assert thing["log_stream"] and (thing["region"], thing["default_region"]) == (REGION, REGION)


def test_an_update_sends_update_and_the_replaced_id_gets_a_delete(aws):
    create(aws)
    stack = update(aws, "two")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(stack) == {"ThingId": "thing-two", "Greeting": "hello two",
                              "EchoGreeting": "hello echo"}  # fmt: skip
    records = requests_made(aws)[2:]
    # Thing, then Echo (its Upstream is Thing's GetAtt), then the cleanup: thing-one deleted.
    assert kinds(records) == [("Thing", "Update"), ("Echo", "Update"), ("Thing", "Delete")]
    thing, echo, cleanup = (r["event"] for r in records)
    assert thing["PhysicalResourceId"] == "thing-one"
    assert thing["ResourceProperties"]["Name"] == "two"
    assert thing["OldResourceProperties"]["Name"] == "one"
    assert (echo["OldResourceProperties"]["Upstream"], echo["ResourceProperties"]["Upstream"]) == (
        "hello one", "hello two")  # fmt: skip
    assert echo["PhysicalResourceId"] == "thing-echo"
    assert cleanup["PhysicalResourceId"] == "thing-one"
    assert cleanup["ResourceProperties"]["Name"] == "one"
    assert physical_ids(aws, STACK)["Thing"] == "thing-two"
    done = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in resource_events(aws, STACK)]
    assert ("Thing", "UPDATE_COMPLETE") in done and ("Thing", "DELETE_COMPLETE") in done
    assert ("Function", "UPDATE_COMPLETE") not in done  # nothing of it changed


def test_an_update_without_changes_to_a_custom_resource_sends_it_nothing(aws):
    create(aws)
    template = json.loads(json.dumps(TEMPLATE))
    template["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue"}
    aws.client("cloudformation").update_stack(
        StackName=STACK, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Name", "UsePreviousValue": True}])  # fmt: skip
    assert kinds(requests_made(aws)) == [("Thing", "Create"), ("Echo", "Create")]
    assert "Queue" in physical_ids(aws, STACK)


def test_a_custom_resource_removed_from_the_template_gets_a_delete(aws):
    create(aws)
    template = json.loads(json.dumps(TEMPLATE))
    del template["Resources"]["Echo"], template["Outputs"]["EchoGreeting"]
    aws.client("cloudformation").update_stack(
        StackName=STACK, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Name", "UsePreviousValue": True}])  # fmt: skip
    assert kinds(requests_made(aws))[2:] == [("Echo", "Delete")]
    assert "Echo" not in physical_ids(aws, STACK)


def test_delete_stack_sends_delete_dependents_first(aws):
    stack_id = create(aws)["StackId"]
    aws.client("cloudformation").delete_stack(StackName=STACK)
    records = requests_made(aws)[2:]
    assert kinds(records) == [("Echo", "Delete"), ("Thing", "Delete")]
    assert records[1]["event"]["PhysicalResourceId"] == "thing-one"
    [stack] = aws.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    assert stack["StackStatus"] == "DELETE_COMPLETE"


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("fail", "Received response status [FAILED] from custom resource. "
                 "Message returned: told to fail (one)"),
        ("raise", "no answer at the ResponseURL (the function raised RuntimeError: "
                  "the handler broke)"),
    ],
)  # fmt: skip
def test_a_failed_create_rolls_back_with_the_reason(aws, behaviour, reason):
    stack = create(aws, behaviour=behaviour)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    statuses = [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in resource_events(aws, STACK)
    ]
    assert ("Thing", "CREATE_FAILED", reason) in statuses
    assert (STACK, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: "
            "[Thing]. Rollback requested by user.") in statuses  # fmt: skip
    # What was made is gone again (the function, its role).
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert kinds(requests_made(aws)) == [("Thing", "Create")]


def test_a_failed_delete_leaves_the_stack_delete_failed_with_the_reason(aws):
    stack_id = create(aws, behaviour="fail-delete")["StackId"]
    aws.client("cloudformation").delete_stack(StackName=STACK)
    [stack] = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert (stack["StackId"], stack["StackStatus"]) == (stack_id, "DELETE_FAILED")
    failed = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
              for e in resource_events(aws, STACK) if "FAILED" in e["ResourceStatus"]]  # fmt: skip
    assert failed == [
        ("Thing", "DELETE_FAILED", "Received response status [FAILED] from custom resource. "
                                   "Message returned: told to fail (one)"),
        (STACK, "DELETE_FAILED", "The following resource(s) failed to delete: [Thing]. "),
    ]  # fmt: skip


def test_a_failed_update_rolls_back_and_the_custom_resource_gets_its_old_properties(aws):
    create(aws)
    stack = update(aws, "two", behaviour="fail")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert outputs(stack)["ThingId"] == "thing-one"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Name": "one", "Behaviour": "succeed"}  # fmt: skip
    failed = [e for e in resource_events(aws, STACK) if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert [(e["LogicalResourceId"], e["ResourceStatusReason"]) for e in failed] == [
        ("Thing", "Received response status [FAILED] from custom resource. "
                  "Message returned: told to fail (two)")]  # fmt: skip
    records = requests_made(aws)[2:]
    assert kinds(records) == [("Thing", "Update"), ("Thing", "Update")]  # the try, the rollback
    rollback = records[1]["event"]
    assert rollback["ResourceProperties"]["Name"] == "one"
    assert rollback["OldResourceProperties"]["Name"] == "two"
    assert rollback["PhysicalResourceId"] == "thing-one"


# --- custom resources, through moto_server ---------------------------------------------------


@pytest.mark.slow
def test_custom_resources_through_moto_server(moto_server):
    """`python -m tools.local.moto_compat`: the handler runs in the server's request thread, its
    boto3 calls land in the server's moto (its records are read back through the endpoint)."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")  # fmt: skip
    endpoint = moto_server["endpoint"]

    class Remote:
        def client(self, service: str) -> Any:
            return session.client(service, endpoint_url=endpoint)

    remote = Remote()
    prepare(remote)
    assert create(remote)["StackStatus"] == "CREATE_COMPLETE"
    stack = update(remote, "two")
    assert (stack["StackStatus"], outputs(stack)["ThingId"]) == ("UPDATE_COMPLETE", "thing-two")
    remote.client("cloudformation").delete_stack(StackName=STACK)
    assert kinds(requests_made(remote)) == [
        ("Thing", "Create"), ("Echo", "Create"),
        ("Thing", "Update"), ("Echo", "Update"), ("Thing", "Delete"),
        ("Echo", "Delete"), ("Thing", "Delete"),
    ]  # fmt: skip
    assert requests_made(remote)[0]["region"] == REGION


# --- updates of our stack --------------------------------------------------------------------

OUR_STACK = "items-api-test"
DIST = cfn.ROOT / "dist"
# What moto changes the physical ID of when a parameter moves code or settings: a layer's new
# version, a function's new version, the custom resource's new deployment, API resources.
REPLACED_TYPES = {"AWS::Lambda::LayerVersion", "AWS::Lambda::Version", "Custom::ApiDeployment",
                  "AWS::ApiGateway::Resource"}  # fmt: skip
# What keeps its physical ID through a parameter edit: the stateful resources, and the roles.
KEPT_TYPES = STATEFUL_TYPES | {"AWS::IAM::Role"}


@pytest.fixture
def ours(aws_env) -> Any:
    """Our stack, created in moto in-process from dist/ with params/test.json: its template."""
    template = json.loads((DIST / "template.json").read_text())
    moto_compat.apply()
    with mock_aws():
        made = cfn.create_built_stack(OUR_STACK, template, stage_values(template, "test"),
                                      REGION)  # fmt: skip
        assert made["status"] == "CREATE_COMPLETE"
        yield template


def changing(template: dict, **values: str) -> list[dict]:
    """UpdateStack's Parameters: these values, UsePreviousValue for every other."""
    return [
        {"ParameterKey": k, "ParameterValue": values[k]}
        if k in values
        else {"ParameterKey": k, "UsePreviousValue": True}
        for k in template["Parameters"]
    ]


def update_ours(template: dict, **values: str) -> dict:
    client = boto3.client("cloudformation", region_name=REGION)
    client.update_stack(StackName=OUR_STACK, UsePreviousTemplate=True,
                        Parameters=changing(template, **values),
                        Capabilities=["CAPABILITY_IAM"])  # fmt: skip
    return client.describe_stacks(StackName=OUR_STACK)["Stacks"][0]


def updated(session: Any, stack_name: str = OUR_STACK) -> dict[str, str]:
    """Logical ID -> type of each resource the update updated (its UPDATE_COMPLETE event)."""
    return {
        e["LogicalResourceId"]: e["ResourceType"]
        for e in resource_events(session, stack_name)
        if e["ResourceStatus"] == "UPDATE_COMPLETE"
        and e["ResourceType"] != "AWS::CloudFormation::Stack"
    }


def referring_to(template: dict, name: str) -> set[str]:
    return {k for k, r in template["Resources"].items() if name in moto_compat.references(r)}


def function_ids(template: dict) -> list[str]:
    """The API's and the stream's functions: those with a `live` alias (the custom resource's
    function has none)."""
    aliases = cfn.resources_of_type(template, "AWS::Lambda::Alias").values()
    return sorted(a["Properties"]["FunctionName"]["Ref"] for a in aliases)


def live_versions(session: Any, template: dict) -> dict[str, str]:
    """Each function's `live` alias version, by function logical ID."""
    physical = physical_ids(session, OUR_STACK)
    lam = session.client("lambda")
    return {f: lam.get_alias(FunctionName=physical[f], Name="live")["FunctionVersion"]
            for f in function_ids(template)}  # fmt: skip


def check_still_usable(session: Any, before: dict[str, str]) -> None:
    """The updated stack describes, lists its resources, and deletes."""
    client = session.client("cloudformation")
    assert set(physical_ids(session, OUR_STACK)) == set(before)
    stack_id = client.describe_stacks(StackName=OUR_STACK)["Stacks"][0]["StackId"]
    client.delete_stack(StackName=OUR_STACK)
    [gone] = client.describe_stacks(StackName=stack_id)["Stacks"]
    assert gone["StackStatus"] == "DELETE_COMPLETE"


@pytest.mark.slow
def test_our_stack_updates_for_a_cors_origin_change_and_nothing_unrelated_changes(ours):
    session = boto3.Session(region_name=REGION)
    before = physical_ids(session, OUR_STACK)
    versions_before = live_versions(session, ours)
    stack = update_ours(ours, CorsAllowOrigin="https://example.com")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["CorsAllowOrigin"] == "https://example.com"
    assert values["RoutePrefix"] == "items"  # UsePreviousValue
    done = updated(session)
    # Every resource moto models that refers to the parameter was updated...
    direct = referring_to(ours, "CorsAllowOrigin") & set(before)
    assert direct and direct <= set(done)
    # ... and, through Refs and GetAtts, what refers to those: the functions' versions (the
    # settings layer's new version number is in their Description) and the live aliases.
    assert set(function_ids(ours)) <= set(done)
    assert all(before[v] != physical_ids(session, OUR_STACK)[v]
               for v in cfn.resources_of_type(ours, "AWS::Lambda::Version"))  # fmt: skip
    assert all(int(live_versions(session, ours)[f]) == int(versions_before[f]) + 1
               for f in function_ids(ours))  # fmt: skip
    lam = session.client("lambda")
    for function in function_ids(ours):
        config = lam.get_function_configuration(FunctionName=before[function])
        assert config["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"] == "https://example.com"
    after = physical_ids(session, OUR_STACK)
    changed = {k for k in before if before[k] != after[k]}
    assert {done.get(k) for k in changed} <= REPLACED_TYPES  # nothing else got a new ID
    assert not KEPT_TYPES & set(done.values())  # tables, bucket, keys, ... untouched
    check_still_usable(session, before)


@pytest.mark.slow
def test_our_stack_updates_for_a_route_prefix_change_and_the_api_moves(ours):
    session = boto3.Session(region_name=REGION)
    before = physical_ids(session, OUR_STACK)
    stack = update_ours(ours, RoutePrefix="things")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    apigateway = session.client("apigateway")
    items = apigateway.get_resources(restApiId=before["Api"], embed=["methods"])["items"]
    paths = {r["path"] for r in items}
    assert {"/things", "/things/{id}", "/things/{id}/versions"} <= paths
    assert not any(p.startswith("/items") for p in paths)  # the replaced ones were deleted
    assert all(r.get("resourceMethods") for r in items if r["path"].startswith("/things"))
    after = physical_ids(session, OUR_STACK)
    done = updated(session)
    assert referring_to(ours, "RoutePrefix") & set(before) <= set(done)
    assert {k for k in before if before[k] != after[k]} >= {"ApiItemsResource"}
    assert {done.get(k) for k in before if before[k] != after[k]} <= REPLACED_TYPES
    assert not KEPT_TYPES & set(done.values())
    check_still_usable(session, before)


def code_variant(artifact: str) -> tuple[str, bytes]:
    """A new build of a function: its built zip plus a file, under a key named as the build
    names keys (artifacts/<name>-<sha256>.zip; a version's Description reads the hash)."""
    entry = json.loads((DIST / "manifest.json").read_text())["artifacts"][artifact]
    out = io.BytesIO()
    with zipfile.ZipFile(DIST / entry["file"]) as built, zipfile.ZipFile(out, "w") as new:
        for item in built.infolist():
            new.writestr(item, built.read(item))
        new.writestr("variant.txt", "a new build")
    body = out.getvalue()
    return f"artifacts/{artifact}-{hashlib.sha256(body).hexdigest()}.zip", body


@pytest.mark.slow
def test_our_stack_updates_a_functions_code_for_a_new_code_key(ours):
    session = boto3.Session(region_name=REGION)
    before = physical_ids(session, OUR_STACK)
    versions_before = live_versions(session, ours)
    key, body = code_variant("health")
    session.client("s3").put_object(Bucket=cfn.ARTIFACT_BUCKET, Key=key, Body=body)
    lam = session.client("lambda")
    shas = {f: lam.get_function(FunctionName=before[f])["Configuration"]["CodeSha256"]
            for f in function_ids(ours)}  # fmt: skip
    stack = update_ours(ours, HealthCodeKey=key)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    health = lam.get_function(FunctionName=before["HealthFunction"])["Configuration"]
    assert health["CodeSha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    for function in set(function_ids(ours)) - {"HealthFunction"}:
        assert lam.get_function(FunctionName=before[function])["Configuration"]["CodeSha256"] == (
            shas[function])  # fmt: skip
    versions = live_versions(session, ours)
    assert int(versions["HealthFunction"]) == int(versions_before["HealthFunction"]) + 1
    assert {f: v for f, v in versions.items() if f != "HealthFunction"} == {
        f: v for f, v in versions_before.items() if f != "HealthFunction"}  # fmt: skip
    assert set(updated(session)) <= {"HealthFunction", "HealthLiveAlias"} | set(
        cfn.resources_of_type(ours, "AWS::Lambda::Version"))  # fmt: skip
    check_still_usable(session, before)


@pytest.mark.slow
def test_our_stack_updates_the_same_through_a_change_set(ours):
    """`aws cloudformation deploy`'s way: CreateChangeSet (UPDATE), then ExecuteChangeSet."""
    session = boto3.Session(region_name=REGION)
    client = session.client("cloudformation")
    before = physical_ids(session, OUR_STACK)
    parameters = changing(ours, CorsAllowOrigin="https://example.com")
    client.create_change_set(StackName=OUR_STACK, ChangeSetName="cors", ChangeSetType="UPDATE",
                             UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                             Parameters=parameters)  # fmt: skip
    described = client.describe_change_set(StackName=OUR_STACK, ChangeSetName="cors")
    planned = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"]
               for c in described["Changes"]}  # fmt: skip
    assert {f: "Modify" for f in function_ids(ours)}.items() <= planned.items()
    assert "ItemsTable" not in planned
    client.execute_change_set(StackName=OUR_STACK, ChangeSetName="cors")
    stack = client.describe_stacks(StackName=OUR_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["CorsAllowOrigin"] == "https://example.com"
    config = session.client("lambda").get_function_configuration(
        FunctionName=before["HealthFunction"]
    )
    assert config["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"] == "https://example.com"
    assert referring_to(ours, "CorsAllowOrigin") & set(before) <= set(updated(session))
    described = client.describe_change_set(StackName=OUR_STACK, ChangeSetName="cors")
    assert described["ExecutionStatus"] == "EXECUTE_COMPLETE"
    check_still_usable(session, before)


@pytest.mark.slow
def test_our_stack_updates_through_moto_server(moto_server, monkeypatch):
    """The reported failure: UpdateStack of our stack on `python -m tools.local.moto_compat`."""
    for key, value in moto_helpers.environment(moto_server["endpoint"]).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    made = local_stack.create("test", OUR_STACK, REGION, DIST, cfn.ROOT / "params")
    session = boto3.Session(region_name=REGION)
    before = physical_ids(session, OUR_STACK)
    stack = update_ours(made.template, RoutePrefix="things", CorsAllowOrigin="https://example.com")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    paths = {r["path"] for r in session.client("apigateway").get_resources(
        restApiId=made.physical["Api"])["items"]}  # fmt: skip
    assert "/things/{id}" in paths and "/items/{id}" not in paths
    check_still_usable(session, before)


def copied_inputs(tmp: Path, stage: str, **changes: str) -> tuple[Path, Path]:
    """params/ and dist/ copied, the stage's values changed in both (nothing is rebuilt)."""
    params, dist = tmp / "params", tmp / "dist"
    shutil.copytree(cfn.ROOT / "params", params)
    shutil.copytree(DIST, dist, ignore=shutil.ignore_patterns("deploy"))
    stage_file = params / f"{stage}.json"
    stage_file.write_text(json.dumps({**json.loads(stage_file.read_text()), **changes}))
    built_file = dist / "params" / f"{stage}.json"
    built = dict(line.split("=", 1) for line in json.loads(built_file.read_text()))
    built_file.write_text(json.dumps([f"{k}={v}" for k, v in sorted({**built, **changes}.items())]))
    return params, dist


@pytest.mark.slow
def test_a_deploy_with_a_changed_parameter_updates_through_aws_cloudformation_deploy(
    moto_server, tmp_path
):
    """The operator's update: `python -m tools.deploy` (`aws cloudformation deploy`:
    CreateChangeSet UPDATE, ExecuteChangeSet) of a changed params file onto the deployed stack,
    on moto_server."""
    env = moto_helpers.environment(moto_server["endpoint"])
    local_stack.give_account_cloudwatch_role(moto_server["endpoint"], REGION)

    def deploy(params: Path, dist: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools.deploy", "deploy", "--stage", "dev", "--region", REGION,
             "--params-dir", str(params), "--dist", str(dist)],
            cwd=cfn.ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    first = deploy(*copied_inputs(tmp_path / "first", "dev"))
    assert first.returncode == 0, first.stdout + first.stderr
    second = deploy(*copied_inputs(tmp_path / "second", "dev", CorsAllowOrigin="https://x.example"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "items-api-dev: UPDATE_COMPLETE" in second.stdout
    client = moto_helpers.client(env, "cloudformation")
    [stack] = client.describe_stacks(StackName="items-api-dev")["Stacks"]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert values["CorsAllowOrigin"] == "https://x.example"
    config = moto_helpers.client(env, "lambda").get_function_configuration(
        FunctionName="items-api-dev-health")  # fmt: skip
    assert config["Environment"]["Variables"]["CORS_ALLOW_ORIGIN"] == "https://x.example"


def test_references_reads_refs_getatts_subs_and_conditions():
    node = {
        "A": {"Ref": "Param"},
        "B": {"Fn::GetAtt": ["Res", "Arn"]},
        "C": {"Fn::GetAtt": "Other.Arn"},
        "D": {"Fn::Sub": "${Stage}-${Api.RootResourceId}-${!Literal}"},
        "E": {"Fn::Sub": ["${Local}-${AWS::Region}", {"Local": {"Ref": "Inner"}}]},
        "F": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
    }
    assert moto_compat.references(node) == {
        "Param", "Res", "Other", "Stage", "Api", "AWS::Region", "Inner", "IsProd",
        "AWS::NoValue"}  # fmt: skip


def test_apply_is_idempotent():
    moto_compat.apply()
    patched = (parsing_update(), cfn_custom_create())
    moto_compat.apply()
    assert (parsing_update(), cfn_custom_create()) == patched


def parsing_update() -> Any:
    from moto.cloudformation import parsing

    return parsing.ResourceMap.update


def cfn_custom_create() -> Any:
    from moto.cloudformation.custom_model import CustomModel

    return CustomModel.create_from_cloudformation_json.__func__


@pytest.mark.parametrize("how", ["create_stack", "change_set"])
def test_our_stack_creates_in_dependency_order_whatever_the_documents_order(aws_env, how):
    """CloudFormation makes resources in dependency order, whatever order the template lists
    them in; moto went in document order, so the composition root had to add them in
    dependency order. Reversed, our stack creates the same resources (moto_compat's
    _create_in_dependency_order)."""
    template = json.loads((DIST / "template.json").read_text())
    reversed_body = {**template, "Resources": dict(reversed(template["Resources"].items()))}
    moto_compat.apply()
    with mock_aws():
        values = stage_values(template, "test")
        written = cfn.create_built_stack("written", template, values, REGION)
        client = boto3.client("cloudformation", region_name=REGION)
        given = {
            "StackName": "reversed",
            "TemplateBody": json.dumps(reversed_body),
            "Parameters": local_stack.stack_parameters(
                template, {**values, **cfn.build_keys(), "ArtifactBucket": cfn.ARTIFACT_BUCKET}
            ),
            "Capabilities": ["CAPABILITY_IAM"],
        }
        if how == "create_stack":
            client.create_stack(**given)
        else:
            client.create_change_set(**given, ChangeSetName="create", ChangeSetType="CREATE")
            client.execute_change_set(StackName="reversed", ChangeSetName="create")
        [stack] = client.describe_stacks(StackName="reversed")["Stacks"]
        made = physical_ids(boto3.Session(region_name=REGION), "reversed")
    assert (written["status"], stack["StackStatus"]) == ("CREATE_COMPLETE", "CREATE_COMPLETE")
    assert set(made) == set(written["physical"])
