"""The operators' decisions, value by value, with AWS-shaped answers where moto gives none
(Replacement and Details in change sets, per-resource failure events): the replacement gate,
the plan table, drift and ADOPT, the failure summary, what destroy retains, FN names."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.aws import REGION
from tests.cfn import ROOT
from tools.deploy import changes, drift, events, logs, teardown
from tools.deploy import cli as deploy
from tools.deploy.stage_params import stage_values


def aws_change(logical: str, type_: str, action: str, replacement: str = "",
               recreating: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """A change as DescribeChangeSet returns it."""
    details = [
        {"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Always"}}
        for name in recreating
    ] + [{"Target": {"Attribute": "Properties", "Name": "Tags", "RequiresRecreation": "Never"}}]
    change = {"Action": action, "LogicalResourceId": logical, "ResourceType": type_,
              "Details": details}  # fmt: skip
    if action == "Modify":
        change["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": change}


TABLE = "AWS::DynamoDB::Table"


@pytest.mark.parametrize(
    ("change", "blocked"),
    [
        (aws_change("ItemsTable", TABLE, "Modify", "True", ("KeySchema",)), True),
        (aws_change("ItemsTable", TABLE, "Modify", "Conditional", ("KeySchema",)), True),
        (aws_change("ItemsTable", TABLE, "Modify", "False"), False),
        (aws_change("ItemsTable", TABLE, "Remove"), True),
        (aws_change("ItemsBucket", "AWS::S3::Bucket", "Remove"), True),
        (aws_change("DataKey", "AWS::KMS::Key", "Modify", "True", ("KeySpec",)), True),
        (
            aws_change("ApiLogGroup", "AWS::Logs::LogGroup", "Modify", "True", ("LogGroupName",)),
            True,
        ),
        (aws_change("FailureQueue", "AWS::SQS::Queue", "Modify", "True", ("FifoQueue",)), True),
        (aws_change("GetItemFunction", "AWS::Lambda::Function", "Modify", "True"), False),
        (aws_change("GetItemFunction", "AWS::Lambda::Function", "Remove"), False),
        (aws_change("NewTable", TABLE, "Add"), False),
    ],
    ids=lambda v: v if isinstance(v, bool) else v["ResourceChange"]["LogicalResourceId"],
)
def test_the_gate_blocks_replacing_or_deleting_stateful_resources(change, blocked):
    result = changes.Preview("s", "UPDATE", [changes._change(change)])
    assert bool(result.blocked()) is blocked


def test_the_gate_names_the_properties_that_recreate():
    change = changes._change(aws_change("ItemsTable", TABLE, "Modify", "True", ("KeySchema",)))
    assert change.causes == ("KeySchema",)
    [reason] = changes.Preview("s", "UPDATE", [change]).blocked()
    assert reason == "ItemsTable (AWS::DynamoDB::Table) would be replaced (KeySchema)"


@pytest.mark.parametrize(
    ("key", "live", "blocked"),
    [
        ("PartitionKeyName", "id", True),
        ("SortKeyName", "", True),
        ("MemorySize", "128", False),
        ("PartitionKeyName", None, False),
    ],
)
def test_a_changed_key_name_blocks_whatever_the_change_set_says(key, live, blocked):
    result = changes.Preview("s", "UPDATE" if live is not None else "CREATE")
    result.parameters = [(key, live, "other")]
    assert bool(result.blocked()) is blocked


def test_the_plan_table():
    result = changes.Preview("items-api-test", "UPDATE", [
        changes._change(aws_change("ItemsTable", TABLE, "Modify", "True", ("KeySchema",))),
        changes._change(aws_change("GetItemFunction", "AWS::Lambda::Function", "Modify", "False")),
    ], [("MemorySize", "128", "256")])  # fmt: skip
    text = changes.render(result, "params/test.json").splitlines()
    assert text[0] == "plan for items-api-test (UPDATE):"
    assert text[1].split() == ["logical", "ID", "type", "action", "replacement", "caused", "by"]
    assert text[2].split() == ["ItemsTable", TABLE, "Modify", "True", "KeySchema"]
    assert text[3].split() == ["GetItemFunction", "AWS::Lambda::Function", "Modify", "False",
                               "Tags"]  # fmt: skip
    assert text[4:] == ["parameters (live -> params/test.json):", "  MemorySize: '128' -> '256'"]


# -- drift ---------------------------------------------------------------------------------------

LIVE = {"MemorySize": "128", "Timeout": "10", "LogLevel": "DEBUG"}


@pytest.mark.parametrize(
    ("file", "recorded", "drifted"),
    [
        ({"MemorySize": 128, "Timeout": 10}, None, []),
        ({"MemorySize": 256, "Timeout": 10}, None, ["MemorySize"]),  # no record: can't tell
        ({"MemorySize": 256, "Timeout": 10}, {"MemorySize": "128"}, []),  # the developer's change
        ({"MemorySize": 256, "Timeout": 10}, {"MemorySize": "256"}, ["MemorySize"]),  # console
        ({"MemorySize": 128, "Timeout": 10}, {"MemorySize": "256"}, []),  # console = file
    ],
)
def test_drift_is_what_changed_outside_make_deploy(template, file, recorded, drifted):
    values = {k: str(v) for k, v in file.items()}
    live = {**LIVE, "LogLevel": template["Parameters"]["LogLevel"]["Default"]}
    found = drift.compare(template, values, live, recorded)
    assert [d.key for d in found.differences] == drifted
    assert "LogLevel" in found.not_in_file and "MemorySize" not in found.not_in_file


def test_adopt_keeps_numbers_numbers_and_the_file_sorted(template, tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"Stage": "dev", "MemorySize": 256, "LogLevel": "INFO"}))
    found = drift.Drift([drift.Difference("MemorySize", "1024", "256", True),
                         drift.Difference("LogLevel", "DEBUG", "INFO", True)], [])  # fmt: skip
    assert drift.adopt(path, template, found) == ["MemorySize", "LogLevel"]
    assert path.read_text() == (
        '{\n  "LogLevel": "DEBUG",\n  "MemorySize": 1024,\n  "Stage": "dev"\n}\n'
    )


def test_force_deploys_over_a_console_edit(template, aws_env, capsys):
    p = deploy.Release("test", "items-api-test", REGION, ROOT / "dist", template,
                    stage_values(template, "test"), {})  # fmt: skip
    live = {"Parameters": [{"ParameterKey": k, "ParameterValue": v}
                           for k, v in {**p.values, "MemorySize": "999"}.items()]}  # fmt: skip
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket="record-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        drift.write_record(s3, "record-bucket", p.stack_name, p.values)
        with pytest.raises(deploy.DeployError, match="changed outside make deploy"):
            deploy.check_drift(s3, "record-bucket", p, live, deploy.Options())
        assert deploy.check_drift(s3, "record-bucket", p, live, deploy.Options(force=True)) is True
    assert "FORCE=1: deploying" in capsys.readouterr().out


# -- events, destroy, logs -----------------------------------------------------------------------


class FakeCloudFormation:
    """describe_stack_events pages, newest first as AWS returns them."""

    class exceptions:
        ClientError = Exception

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, logical: str, status: str, reason: str = "") -> None:
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=len(self.events))
        self.events.insert(0, {"EventId": str(len(self.events)), "LogicalResourceId": logical,
                               "ResourceType": "T", "ResourceStatus": status, "Timestamp": when,
                               "ResourceStatusReason": reason})  # fmt: skip

    def get_paginator(self, name: str):
        fake = self

        class Pages:
            def paginate(self, StackName: str):
                return [{"StackEvents": list(fake.events)}]

        return Pages()


def test_events_are_printed_once_in_order_and_the_first_failure_is_the_cause():
    cfn = FakeCloudFormation()
    cfn.add("old", "UPDATE_COMPLETE")  # before this operation: not printed
    printed: list[str] = []
    tail = events.EventTail(cfn, "s", out=printed.append)
    cfn.add("s", "UPDATE_IN_PROGRESS", "User Initiated")
    cfn.add("ItemsTable", "UPDATE_FAILED", "Resource handler returned message: boom")
    tail.poll()
    cfn.add("GetItemFunction", "UPDATE_FAILED", "Resource update cancelled")
    cfn.add("s", "UPDATE_ROLLBACK_COMPLETE")
    tail.poll()
    tail.poll()
    assert [p.split()[1] for p in printed] == ["s", "ItemsTable", "GetItemFunction", "s"]
    assert tail.failure()["LogicalResourceId"] == "ItemsTable"
    assert printed[1].endswith("UPDATE_FAILED  Resource handler returned message: boom")


def test_destroy_retains_exactly_the_retained_resources(template):
    live = {k: (r["Type"], f"phys-{k}") for k, r in template["Resources"].items()}
    kept = {r.logical_id for r in teardown.retained(template, live)}
    expected = {
        k
        for k, r in template["Resources"].items()
        if r.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    }
    assert kept == expected and "ItemsTable" in kept


class OneClient:
    """A session that hands out one prepared client."""

    def __init__(self, client: object) -> None:
        self._client = client

    def client(self, _service: str) -> object:
        return self._client


def test_purge_waits_for_the_table_to_be_active_before_deleting_it():
    """DeleteTable refuses a table in the CREATING or UPDATING state with
    ResourceInUseException (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/
    API_DeleteTable.html), and turning deletion protection off is an UpdateTable. moto answers
    ACTIVE at once, so the states are played at botocore's layer: the delete must come only
    after a DescribeTable has said ACTIVE."""
    client = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # fmt: skip
    table = {"TableName": "items"}
    with Stubber(client) as stub:
        stub.add_response("update_table", {}, {**table, "DeletionProtectionEnabled": False})
        stub.add_response("describe_table", {"Table": {**table, "TableStatus": "UPDATING"}}, table)
        stub.add_response("describe_table", {"Table": {**table, "TableStatus": "ACTIVE"}}, table)
        stub.add_response("delete_table", {}, table)
        printed: list[str] = []
        teardown.purge(OneClient(client), teardown.Retained("ItemsTable", "AWS::DynamoDB::Table",
                       "items"), out=printed.append)  # fmt: skip
        stub.assert_no_pending_responses()
    assert printed == ["  purged table items"]


@pytest.mark.parametrize("typed", ["", "items-api-prod", "items-api-dev "])
def test_destroy_asks_for_the_exact_stack_name(typed):
    if typed.strip() == "items-api-dev":
        teardown.confirm("items-api-dev", False, ask=lambda _: typed)
    else:
        with pytest.raises(teardown.TeardownError, match="nothing deleted"):
            teardown.confirm("items-api-dev", False, ask=lambda _: typed)


@pytest.mark.parametrize(
    ("fn", "group_id"),
    [("get_item", "GetItemLogGroup"), ("stream-audit", "StreamAuditLogGroup")],
)
def test_log_group_ids(template, fn, group_id):
    assert logs.log_group_id(fn) == group_id
    assert template["Resources"][group_id]["Type"] == "AWS::Logs::LogGroup"


class RecordingCloudFormation:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def set_stack_policy(self, **kwargs: object) -> None:
        self.calls.append(("set_stack_policy", kwargs))

    def update_termination_protection(self, **kwargs: object) -> None:
        self.calls.append(("update_termination_protection", kwargs))


@pytest.mark.parametrize("stage", ["dev", "test", "prod"])
def test_prod_is_protected_after_every_deploy(template, stage):
    """moto has no UpdateTerminationProtection, so the calls are checked here."""
    p = deploy.Release(stage, f"items-api-{stage}", REGION, ROOT / "dist", template, {}, {})
    cfn = RecordingCloudFormation()
    deploy.protect(cfn, p)
    if stage != "prod":
        [(policy, policy_args)] = cfn.calls
        assert policy == "set_stack_policy" and "Update:Replace" in policy_args["StackPolicyBody"]
        return
    [(policy, policy_args), (protection, protection_args)] = cfn.calls
    assert policy == "set_stack_policy" and "Update:Replace" in policy_args["StackPolicyBody"]
    assert protection == "update_termination_protection"
    assert protection_args == {"EnableTerminationProtection": True, "StackName": "items-api-prod"}


SERVICE_ROLE = "arn:aws:iam::123456789012:role/items-api-cloudformation-test"


@pytest.mark.parametrize("role_arn", [None, SERVICE_ROLE])
def test_the_deploy_passes_a_service_role_only_when_given_one(template, tmp_path, role_arn):
    """ROLE_ARN=... (CI's CloudFormation service role, templates/deploy_roles.py) becomes
    `--role-arn`; without it CloudFormation acts with the caller's own permissions."""
    p = deploy.Release("test", "items-api-test", REGION, ROOT / "dist", template,
                       stage_values(template, "test"), {})  # fmt: skip
    command = deploy.deploy_command(p, "bucket", p.values, tmp_path / "test.json", role_arn)
    assert command[1:3] == ["cloudformation", "deploy"]
    if role_arn is None:
        assert "--role-arn" not in command
    else:
        assert command[command.index("--role-arn") + 1] == role_arn
        assert command.count("--role-arn") == 1


@pytest.mark.parametrize(
    ("argv", "role_arn"), [([], None), (["--role-arn", SERVICE_ROLE], SERVICE_ROLE)]
)
def test_make_deploys_role_arn_reaches_the_deploy(monkeypatch, argv, role_arn):
    """The Makefile's ROLE_ARN is --role-arn (the OPS line); main hands it to deploy()."""
    given = []
    monkeypatch.setattr(deploy, "deploy", lambda p, bucket, options: given.append(options))
    assert deploy.main(["deploy", "--stage", "test", *argv]) == 0
    assert [o.role_arn for o in given] == [role_arn]
    makefile = (ROOT / "Makefile").read_text()
    assert "$(if $(ROLE_ARN),--role-arn '$(ROLE_ARN)')" in makefile


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "CREATE_COMPLETE"])
def test_a_retry_after_a_failed_first_create_starts_from_an_empty_stack(aws_env, capsys, status):
    """A stack whose first create rolled back is ROLLBACK_COMPLETE and can only be deleted,
    not updated (stack status codes: https://docs.aws.amazon.com/AWSCloudFormation/latest/
    UserGuide/view-stack-events.html). moto never rolls a create back, so the status is set in
    its backend. make deploy deletes that shell and creates anew; a completed stack is left
    alone."""
    from moto.cloudformation.models import cloudformation_backends

    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        stack_id = cfn.create_stack(StackName="items-api-dev", TemplateBody=json.dumps(body))[
            "StackId"
        ]
        [backend] = [b[REGION] for b in cloudformation_backends.values() if REGION in b]
        backend.stacks[stack_id].status = status
        stack = deploy.live_stack(cfn, "items-api-dev")
        after = deploy.clear_failed_create(cfn, "items-api-dev", stack)
        if status == "ROLLBACK_COMPLETE":
            assert after is None and deploy.live_stack(cfn, "items-api-dev") is None
            assert "deleting the empty stack to create it again" in capsys.readouterr().out
        else:
            assert after == stack and deploy.live_stack(cfn, "items-api-dev")


CHANGE_SET = {"StackName": "items-api-test", "ChangeSetName": "plan-1"}


NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create "
    "a change set."
)
PAGE_A = {"Status": "CREATE_COMPLETE", "Changes": [aws_change("A", "AWS::SNS::Topic", "Add")]}
PAGE_B = {"Status": "CREATE_COMPLETE", "Changes": [aws_change("B", "AWS::SNS::Topic", "Add")]}


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        # CloudFormation's own wording when nothing changes: an empty plan, not an error
        ([{"Status": "FAILED", "StatusReason": NO_CHANGES}], []),
        (
            [{"Status": "FAILED", "StatusReason": "Parameter 'Stage' must be one of dev, test"}],
            "failed: Parameter 'Stage' must be one of dev, test",
        ),
        # the waiter polls until CREATE_COMPLETE; then both pages of changes are read
        ([{"Status": "CREATE_PENDING"}, PAGE_A, {**PAGE_A, "NextToken": "2"}, PAGE_B], ["A", "B"]),
    ],
)
def test_the_plan_waits_for_its_change_set_with_boto3s_waiter(answers, outcome):
    """Polled until CREATE_COMPLETE (then every page of changes read), or FAILED: the reason is
    the operator's error, except CloudFormation's 'no changes'."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    waiting = {**changes.WAITING, "Delay": 0}
    with Stubber(cfn) as stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr(changes, "WAITING", waiting)
        for answer in answers:
            stub.add_response("describe_change_set", {**CHANGE_SET, **answer})
        if isinstance(outcome, str):
            with pytest.raises(changes.ChangeSetError, match=outcome):
                changes._wait(cfn, "items-api-test", "plan-1")
            return
        described = changes._wait(cfn, "items-api-test", "plan-1")
    ids = [c["ResourceChange"]["LogicalResourceId"] for c in described["Changes"]]
    assert ids == outcome


@pytest.mark.parametrize(
    ("statuses", "result"),
    [
        (["DELETE_IN_PROGRESS", "DELETE_COMPLETE"], "DELETE_COMPLETE"),
        (["DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_FAILED"], "DELETE_FAILED"),
        (["DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS"], "DELETE_IN_PROGRESS (gave up waiting)"),
    ],
)
def test_destroy_reports_the_status_the_delete_stopped_in(statuses, result):
    cfn = boto3.client("cloudformation", region_name=REGION)
    stack = {"StackName": "s", "StackId": "arn:s", "CreationTime": datetime(2026, 1, 1, tzinfo=UTC)}
    with Stubber(cfn) as stub, pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.sleep", lambda _: None)
        for status in statuses:
            stack_answer = {**stack, "StackStatus": status}
            stub.add_response("describe_stacks", {"Stacks": [stack_answer]})
        assert deploy.wait_for_delete(cfn, "arn:s", seconds=2) == result
