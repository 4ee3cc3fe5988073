"""The stack policy: every stateful resource of the template, and nothing else, is denied
replacement and deletion; build.py writes exactly that policy; the deploy sets it on every stage,
after a deploy and after a no-op alike."""

import json
from collections import defaultdict

import boto3
import pytest
from moto import mock_aws

import build
from tests.aws import REGION
from tests.cfn import _schemas
from tools.deploy import cli as deploy
from tools.deploy.stack_policy import STATEFUL_TYPES, stack_policy

DENIED = {"Update:Replace", "Update:Delete"}
ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def denied(policy: dict) -> dict[str, set[str]]:
    """Update action -> the logical IDs a Deny statement names for it."""
    found: dict[str, set[str]] = defaultdict(set)
    for s in policy["Statement"]:
        if s["Effect"] == "Deny":
            assert s["Principal"] == "*"
            for action in _as_list(s["Action"]):
                for resource in _as_list(s["Resource"]):
                    assert resource.startswith("LogicalResourceId/"), resource
                    found[action].add(resource.removeprefix("LogicalResourceId/"))
    return dict(found)


def _stateful(template: dict) -> set[str]:
    return {k for k, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES}


# The real template


def test_every_update_of_everything_else_is_allowed(template):
    statements = stack_policy(template)["Statement"]
    assert [s for s in statements if s["Effect"] == "Allow"] == [ALLOW_ALL]
    assert {s["Effect"] for s in statements} == {"Allow", "Deny"}


@pytest.mark.parametrize("action", sorted(DENIED))
def test_exactly_the_stateful_resources_are_denied(template, action):
    assert _stateful(template), "the template has no stateful resource: nothing to protect?"
    assert denied(stack_policy(template))[action] == _stateful(template)


def test_nothing_but_replace_and_delete_is_denied(template):
    assert set(denied(stack_policy(template))) == DENIED


@pytest.mark.parametrize("type_", sorted(STATEFUL_TYPES))
def test_every_stateful_type_is_a_cloudformation_type(type_):
    """A misspelt type would protect nothing, silently."""
    assert type_ in {s["typeName"] for s in _schemas()}


def test_the_policy_is_sorted_and_independent_of_resource_order(template):
    reordered = {**template, "Resources": dict(reversed(template["Resources"].items()))}
    policy = stack_policy(template)
    assert stack_policy(reordered) == policy
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Resource"] == sorted(deny["Resource"])
    assert deny["Action"] == sorted(deny["Action"])


# Small templates: exactly which types count


@pytest.mark.parametrize(
    ("type_", "stateful"),
    [
        ("AWS::DynamoDB::Table", True),
        ("AWS::S3::Bucket", True),
        ("AWS::KMS::Key", True),
        ("AWS::Logs::LogGroup", True),
        ("AWS::SQS::Queue", True),
        ("AWS::KMS::Alias", False),
        ("AWS::S3::BucketPolicy", False),
        ("AWS::SQS::QueuePolicy", False),
        ("AWS::Lambda::Function", False),
        ("AWS::IAM::Role", False),
    ],
)
def test_which_types_are_protected(type_, stateful):
    policy = stack_policy({"Resources": {"It": {"Type": type_}}})
    assert denied(policy) == ({a: {"It"} for a in DENIED} if stateful else {})
    assert policy["Statement"][0] == ALLOW_ALL


# The build


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist")
    return {"out": out, **build.build(out, ["prod"])}


def test_the_built_policy_is_the_built_templates(built, template):
    out = built["out"]
    data = (out / "stack-policy.json").read_bytes()
    policy = stack_policy(json.loads((out / "template.json").read_text()))
    assert json.loads(data) == policy == stack_policy(template)
    assert data == build.dump_json(policy)  # the layout of every dist/ JSON file
    entry = built["manifest"]["stack_policy"]
    assert entry["file"] == "stack-policy.json" and entry["size"] == len(data)


# The deploy: the `aws cloudformation deploy` subprocess is played in moto by a small template


MINI = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"ArtifactBucket": {"Type": "String"}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    },
}
BUCKET = "artifacts"


@pytest.fixture
def cloudformation(aws_env, monkeypatch):
    """moto's CloudFormation, with `aws cloudformation deploy` creating or updating MINI."""
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        deployed = []

        def fake_deploy(p: deploy.Release, bucket: str, values: dict[str, str], _: object,
                        role_arn: str | None = None) -> None:  # fmt: skip
            kwargs = {
                "StackName": p.stack_name,
                "TemplateBody": json.dumps(p.template),
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            }
            if deploy.live_stack(cfn, p.stack_name):
                cfn.update_stack(**kwargs)
            else:
                cfn.create_stack(**kwargs)
            deployed.append(p.stack_name)

        monkeypatch.setattr(deploy, "cloudformation_deploy", fake_deploy)
        real_protect = deploy.protect

        class NoTerminationProtection:
            """moto has no UpdateTerminationProtection: record the call instead."""

            def __init__(self, client: object) -> None:
                self.client = client

            def __getattr__(self, name: str) -> object:
                return getattr(self.client, name)

            def update_termination_protection(self, **kwargs: object) -> None:
                protected.append(kwargs["StackName"])

        protected: list[str] = []
        monkeypatch.setattr(
            deploy, "protect", lambda client, p: real_protect(NoTerminationProtection(client), p)
        )
        yield cfn, deployed, protected


@pytest.mark.parametrize("stage", ["prod", "test", "dev"])
@pytest.mark.parametrize(
    ("live", "deploys"),
    [(None, True), ("another-bucket", True), (BUCKET, False)],
    ids=["new stack", "changed stack", "unchanged stack"],
)
def test_deploy_sets_the_stack_policy_on_every_stage(cloudformation, capsys, stage, live, deploys):
    """A console edit that would replace data is refused in every stage (the stack policy),
    and only prod's stack also refuses a delete (termination protection)."""
    cfn, deployed, protected = cloudformation
    name = f"items-api-{stage}"
    if live:
        parameters = [{"ParameterKey": "ArtifactBucket", "ParameterValue": live}]
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(MINI), Parameters=parameters)
    p = deploy.Release(stage, name, REGION, build.ROOT / "dist", MINI, {}, {})

    deploy.deploy(p, BUCKET, deploy.Options())

    assert deployed == ([name] if deploys else [])
    body = cfn.get_stack_policy(StackName=name).get("StackPolicyBody")
    out = capsys.readouterr().out
    assert json.loads(body) == stack_policy(MINI)
    assert denied(json.loads(body)) == {a: {"Queue"} for a in DENIED}
    assert f"{name}: stack policy set" in out
    if stage == "prod":
        assert protected == [name] and f"{name}: termination protection on" in out
    else:
        assert protected == [] and "termination protection" not in out


@pytest.mark.parametrize("fails", [False, True], ids=["deploy succeeds", "deploy fails"])
def test_allow_replace_opens_the_policy_for_one_deploy_only(cloudformation, monkeypatch, fails):
    """ALLOW_REPLACE=1: the deploy runs under a policy that allows every update (UpdateStack's
    StackPolicyDuringUpdateBody has no change-set equivalent: ExecuteChangeSet takes no policy,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html),
    and the stack's own policy is set back right after, even when the deploy fails."""
    cfn, deployed, _ = cloudformation
    name = "items-api-dev"
    parameters = [{"ParameterKey": "ArtifactBucket", "ParameterValue": "old-bucket"}]
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(MINI), Parameters=parameters)
    cfn.set_stack_policy(StackName=name, StackPolicyBody=json.dumps(stack_policy(MINI)))
    during = []
    recorded = deploy.cloudformation_deploy

    def deploy_under_policy(p, bucket, values, client, role_arn=None) -> None:
        during.append(json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"]))
        recorded(p, bucket, values, client, role_arn)
        if fails:
            raise deploy.DeployError("the update failed")

    monkeypatch.setattr(deploy, "cloudformation_deploy", deploy_under_policy)
    p = deploy.Release("dev", name, REGION, build.ROOT / "dist", MINI, {}, {})
    try:
        deploy.deploy(p, BUCKET, deploy.Options(allow_replace=True))
    except deploy.DeployError:
        assert fails
    assert deployed == [name] and during == [deploy.OPEN_POLICY]
    after = json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"])
    assert after == stack_policy(MINI)
