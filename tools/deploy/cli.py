#!/usr/bin/env python3
"""Deploy dist/ to one stage's stack with `aws cloudformation deploy`.

Order matters: everything that can be checked without AWS (stage name, params file, built
artifacts) is checked first, so a bad input fails before any AWS call. Then tools.deploy.preflight's
read-only checks (CloudWatch role, concurrency, names taken), then: the artifact bucket
(created locked-down if absent), the artifacts whose keys are missing, and the deploy itself,
skipped when the live stack already has this template and these parameters. Last, in every
stage, the stack policy (tools/deploy/stack_policy.py), deploy or no deploy. A parameter edit
reaches the API's stage through the stack itself (templates/api_deployment.py)."""

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError

from templates.deploy_permissions import TERMINATION_PROTECTED  # and the roles may set it
from templates.tags import MANAGED_BY, PROJECT
from tools import ROOT
from tools.deploy import changes, drift, events, logs, preflight, stage_params, teardown
from tools.deploy.stack_policy import stack_policy, stateful_resources

TEMPLATE_PREFIX = "templates"
# Settled states: the stack runs the template get_template returns (after a rolled-back update,
# the previous one).
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
# The policy ALLOW_REPLACE=1 gives the stack for its one deploy: every update allowed.
OPEN_POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "Update:*",
                              "Resource": "*"}]}  # fmt: skip


class DeployError(Exception):
    """A deploy that must stop, with the reason for the operator."""


@dataclass(frozen=True)
class Release:
    """What is to be deployed, as the offline checks established it: the stage, its stack, the
    built template and artifacts, the parameter values. (`make plan` previews its change set:
    tools.deploy.changes.preview.)"""

    stage: str
    stack_name: str
    region: str
    dist: Path
    template: dict  # dist/template.json, parsed once
    values: dict[str, str]  # stage values + artifact keys
    artifacts: dict[str, dict]  # manifest entries
    params_dir: Path = ROOT / "params"  # where params/<stage>.json lives (drift, ADOPT)
    stage_file: dict[str, str] | None = None  # what params/<stage>.json itself sets

    @property
    def file_values(self) -> dict[str, str]:
        """The stage file's own values (drift tells them from defaults)."""
        return self.values if self.stage_file is None else self.stage_file


@dataclass(frozen=True)
class Options:
    """The operator's switches (make variables): see README, Deploy."""

    allow_replace: bool = False  # ALLOW_REPLACE=1: deploy even if the gate says no
    adopt: bool = False  # ADOPT=1: write live parameter values into params/<stage>.json
    force: bool = False  # FORCE=1: deploy the file's values over live console edits
    # ROLE_ARN=...: the CloudFormation service role the deploy hands CloudFormation (CI's,
    # templates/deploy_roles.py); None: CloudFormation acts with the caller's own permissions.
    role_arn: str | None = None


def check_stage(stage: str) -> None:
    if stage not in stage_params.STAGES:
        raise DeployError(
            f"STAGE={stage!r} is not a stage; stages are: {', '.join(stage_params.STAGES)}."
        )


def prepare(stage: str, stack_name: str, region: str, dist: Path, params_dir: Path) -> Release:
    """All offline checks; raises before anything talks to AWS."""
    check_stage(stage)
    template_file, manifest_file = dist / "template.json", dist / "manifest.json"
    for f in (template_file, manifest_file):
        if not f.is_file():
            raise DeployError(f"{f}: missing; run `make template` first.")
    template = json.loads(template_file.read_text())
    values = stage_params.validate(params_dir / f"{stage}.json", template)
    artifacts = json.loads(manifest_file.read_text())["artifacts"]
    built = dict(
        line.split("=", 1) for line in json.loads((dist / "params" / f"{stage}.json").read_text())
    )
    for key, value in stage_params.with_defaults(template, values).items():
        if built.get(key) != value:
            raise DeployError(
                f"{dist}/params/{stage}.json is older than params/{stage}.json ({key}); "
                "run `make template` again."
            )
    for entry in artifacts.values():
        if not (dist / entry["file"]).is_file():
            raise DeployError(f"{dist / entry['file']}: missing; run `make template` again.")
    return Release(stage, stack_name, region, dist, template, built, artifacts, params_dir, values)


def ensure_bucket(s3, name: str, region: str) -> bool:
    """Create the artifact bucket locked down (SSE, versioning, no public access) unless it
    exists. Returns True when it was created."""
    try:
        s3.head_bucket(Bucket=name)
        return False
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise DeployError(f"artifact bucket {name}: {e.response['Error']['Code']}") from None
    kwargs = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    s3.create_bucket(Bucket=name, **kwargs)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return True


def upload_missing(s3, bucket: str, p: Release) -> tuple[int, int]:
    """Upload the artifacts whose content-addressed key is not there yet: (files, bytes)."""
    files = size = 0
    for name, entry in sorted(p.artifacts.items()):
        try:
            s3.head_object(Bucket=bucket, Key=entry["s3_key"])
            continue
        except s3.exceptions.ClientError as e:
            if e.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
        s3.upload_file(str(p.dist / entry["file"]), bucket, entry["s3_key"])
        print(f"uploaded {name}: s3://{bucket}/{entry['s3_key']} ({entry['size']} bytes)")
        files, size = files + 1, size + entry["size"]
    return files, size


def live_stack(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except cfn.exceptions.ClientError as e:
        if "does not exist" in e.response["Error"]["Message"]:
            return None
        raise


def unchanged(cfn, stack: dict | None, p: Release, values: dict[str, str]) -> bool:
    """True when the live stack already runs this template with these parameter values."""
    if not stack or stack["StackStatus"] not in DONE:
        return False
    if live_parameters(stack) != full_parameters(p, values):
        return False
    body = cfn.get_template(StackName=p.stack_name, TemplateStage="Original")["TemplateBody"]
    return (body if isinstance(body, dict) else json.loads(body)) == p.template


def live_parameters(stack: dict) -> dict[str, str]:
    return {x["ParameterKey"]: x["ParameterValue"] for x in stack.get("Parameters", [])}


def full_parameters(p: Release, values: dict[str, str]) -> dict[str, str]:
    """Every parameter's value as the stack will hold it: the live stack lists defaulted ones
    too."""
    return stage_params.with_defaults(p.template, values)


def aws_cli() -> str:
    """The awscli installed next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("aws")
    return str(local) if local.exists() else "aws"


def stack_tags(p: Release, values: dict[str, str]) -> list[str]:
    """The stack's tags: the same five every resource carries (templates/tags.py)."""
    value = full_parameters(p, values)
    return [
        f"Project={value['Project']}",
        f"Environment={p.stage}",
        f"Owner={value['Owner']}",
        f"CostCenter={value['CostCenter']}",
        f"ManagedBy={MANAGED_BY}",
    ]


def deploy_command(p: Release, bucket: str, values: dict[str, str], overrides: Path,
                   role_arn: str | None = None) -> list[str]:  # fmt: skip
    """The `aws cloudformation deploy` command line; `role_arn`: the service role it passes."""
    return [
        aws_cli(), "cloudformation", "deploy",
        "--region", p.region,
        "--stack-name", p.stack_name,
        "--template-file", str(p.dist / "template.json"),
        "--parameter-overrides", f"file://{overrides}",
        "--capabilities", "CAPABILITY_IAM",
        "--s3-bucket", bucket,
        "--s3-prefix", TEMPLATE_PREFIX,
        "--no-fail-on-empty-changeset",
        *(["--role-arn", role_arn] if role_arn else []),
        "--tags", *stack_tags(p, values),
    ]  # fmt: skip


def cloudformation_deploy(p: Release, bucket: str, values: dict[str, str], cfn: Any,
                          role_arn: str | None = None) -> None:  # fmt: skip
    """`aws cloudformation deploy`, with the stack's events printed as they happen and, on
    failure, the first failed event's reason and where the rollback ended."""
    overrides = p.dist / "deploy" / f"{p.stage}.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(stage_params.overrides(values), indent=2) + "\n")
    command = deploy_command(p, bucket, values, overrides, role_arn)
    print("$ " + " ".join(command), flush=True)
    tail = events.EventTail(cfn, p.stack_name, out=lambda line: print(line, flush=True))
    tail.start()
    code = subprocess.run(command).returncode
    tail.finish()
    if code != 0:
        failed = tail.failure()
        stack = live_stack(cfn, p.stack_name)
        cause = (
            f"{failed['LogicalResourceId']} ({failed.get('ResourceType')}) "
            f"{failed['ResourceStatus']}: {failed.get('ResourceStatusReason', 'no reason given')}"
            if failed
            else "no failed resource event (see the output above)"
        )
        raise DeployError(
            f"aws cloudformation deploy of {p.stack_name} failed.\n"
            f"  FIRST FAILURE: {cause}\n"
            f"  stack now: {stack['StackStatus'] if stack else 'gone'}"
        )


def protect(cfn: Any, p: Release) -> None:
    """Set the policy of this template (no replacing or deleting its stateful resources on a
    later update, whoever makes it: a console edit of a key name is refused, in every stage)
    and, on prod, turn termination protection on. Done after every deploy, no-op included, so
    the live stack always ends protected (and a hand-loosened policy is tightened again)."""
    body = json.dumps(stack_policy(p.template), indent=2)
    cfn.set_stack_policy(StackName=p.stack_name, StackPolicyBody=body)
    denied = len(stateful_resources(p.template))
    print(f"{p.stack_name}: stack policy set (no replace or delete of {denied} stateful resources)")
    if p.stage in TERMINATION_PROTECTED:
        cfn.update_termination_protection(EnableTerminationProtection=True, StackName=p.stack_name)
        print(f"{p.stack_name}: termination protection on")


@contextlib.contextmanager
def policy_opened(cfn: Any, p: Release, stack: dict | None, allow_replace: bool) -> Iterator[None]:
    """ALLOW_REPLACE=1 on a live stack: its policy allows every update for this one deploy and
    is set back right after, whatever the deploy did. (UpdateStack takes a policy for one
    update, StackPolicyDuringUpdateBody; `aws cloudformation deploy` runs a change set, and
    ExecuteChangeSet takes none.)"""
    if not (allow_replace and stack):
        yield
        return
    cfn.set_stack_policy(StackName=p.stack_name, StackPolicyBody=json.dumps(OPEN_POLICY))
    print(f"ALLOW_REPLACE=1: {p.stack_name}'s stack policy allows replacements for this deploy")
    try:
        yield
    finally:
        protect(cfn, p)


def print_outputs(stack: dict) -> None:
    for o in sorted(stack.get("Outputs", []), key=lambda o: o["OutputKey"]):
        print(f"  {o['OutputKey']:<24} {o['OutputValue']}")


def session_and_bucket(p: Release, bucket: str | None) -> tuple[Any, str]:
    import boto3  # after the offline checks: nothing before may need AWS

    session = boto3.Session(region_name=p.region)
    if not bucket:
        account = session.client("sts").get_caller_identity()["Account"]
        bucket = f"{PROJECT}-artifacts-{account}-{p.region}"
    return session, bucket


def check_drift(s3: Any, bucket: str, p: Release, stack: dict, options: Options) -> bool:
    """Stop on live values changed outside make deploy (drift.py); ADOPT writes them into the
    file and the record (and stops: rebuild, review, deploy again); FORCE goes on over them.
    True when the deploy may go on."""
    params_file = p.params_dir / f"{p.stage}.json"
    live = live_parameters(stack)
    recorded = drift.read_record(s3, bucket, p.stack_name)
    found = drift.compare(p.template, p.file_values, live, recorded)
    if found.not_in_file or found.differences:
        print(found.report(params_file))
    if not found.differences:
        return True
    if options.adopt:
        keys = drift.adopt(params_file, p.template, found)
        drift.write_record(s3, bucket, p.stack_name, live)
        print(f"ADOPT=1: {params_file} now holds the live {', '.join(keys)}; review it "
              "(git diff), then make deploy again.")  # fmt: skip
        return False
    if options.force:
        print(f"FORCE=1: deploying {params_file}'s values over the live ones.")
        return True
    raise DeployError(
        f"{p.stack_name} was changed outside make deploy (see above). ADOPT=1 writes the live "
        f"values into {params_file}; FORCE=1 deploys the file's values over them."
    )


def replacement_gate(cfn: Any, s3: Any, p: Release, bucket: str, stack: dict | None,
                     values: dict[str, str]) -> changes.Preview:  # fmt: skip
    """`make plan`: the change set as a table (tools.deploy.changes), created and deleted."""
    body = json.dumps(p.template, indent=2, sort_keys=False).encode()
    result = changes.preview(
        cfn, p.stack_name, changes.template_url(s3, bucket, body), values,
        p.template["Parameters"], stack, live_parameters(stack) if stack else None,
        full_parameters(p, values),
    )  # fmt: skip
    print(changes.render(result, f"{p.params_dir.name}/{p.stage}.json"))
    return result


def run_preflight(p: Release) -> None:
    """preflight.py, before any upload, bucket or change set: its refusals (all of them) stop
    the command with exit code 2."""
    params_file = f"{p.params_dir.name}/{p.stage}.json"
    values = full_parameters(p, p.values)
    preflight.run(p.template, p.stack_name, p.region, values, params_file, p.stage,
                  out=lambda line: print(line, flush=True))  # fmt: skip


FAILED_CREATE = "ROLLBACK_COMPLETE"  # a stack whose first create rolled back


def clear_failed_create(cfn: Any, stack_name: str, stack: dict | None) -> dict | None:
    """A stack whose first create rolled back can only be deleted (`aws cloudformation deploy`
    refuses to update it). RetainExceptOnCreate made that rollback delete every stateful
    resource the create had made, so the stack is an empty shell: delete it and create anew, as
    `cdk deploy` does. Returns the stack to deploy onto (None: create)."""
    if not stack or stack["StackStatus"] != FAILED_CREATE:
        return stack
    reason = stack.get("StackStatusReason") or "see its events"
    print(f"{stack_name}: its first create failed ({reason}); deleting the empty stack "
          "to create it again", flush=True)  # fmt: skip
    cfn.delete_stack(StackName=stack["StackId"])
    status = wait_for_delete(cfn, stack["StackId"])
    if status != "DELETE_COMPLETE":
        raise DeployError(f"{stack_name}: {status} while deleting the failed create; see its "
                          "events, then make destroy and deploy again.")  # fmt: skip
    return None


def deploy(p: Release, bucket: str | None, options: Options) -> None:
    run_preflight(p)
    session, bucket = session_and_bucket(p, bucket)
    s3, cfn = session.client("s3"), session.client("cloudformation")
    stack = clear_failed_create(cfn, p.stack_name, live_stack(cfn, p.stack_name))
    if ensure_bucket(s3, bucket, p.region):  # artifacts, templates and the deploy record
        print(f"created artifact bucket {bucket} (encrypted, versioned, private)")
    if stack and not check_drift(s3, bucket, p, stack, options):
        return
    values = {**p.values, "ArtifactBucket": bucket}
    if unchanged(cfn, stack, p, values):
        print(f"{p.stack_name}: no changes (same template, same parameters, same artifacts); "
              "no change set, nothing uploaded, nothing deployed.")  # fmt: skip
    else:
        gate = replacement_gate(cfn, s3, p, bucket, stack, values)
        if gate.blocked() and not options.allow_replace:
            raise DeployError(blocked_message(gate))
        files, size = upload_missing(s3, bucket, p)
        print(f"artifacts: {files} uploaded ({size} bytes), {len(p.artifacts) - files} already "
              f"in s3://{bucket}")  # fmt: skip
        with policy_opened(cfn, p, stack, options.allow_replace):
            cloudformation_deploy(p, bucket, values, cfn, options.role_arn)
    protect(cfn, p)
    stack = live_stack(cfn, p.stack_name)
    print(f"{p.stack_name}: {stack['StackStatus'] if stack else 'missing'}")
    deployed = live_parameters(stack) if stack and stack["StackStatus"] in DONE else None
    if deployed and drift.read_record(s3, bucket, p.stack_name) != deployed:
        drift.write_record(s3, bucket, p.stack_name, deployed)  # a no-op writes nothing
    if stack:
        print_outputs(stack)


def blocked_message(gate: changes.Preview) -> str:
    return (
        "stateful resources would be replaced or deleted:\n  "
        + "\n  ".join(gate.blocked())
        + "\nNothing was changed. If that is really wanted, run again with ALLOW_REPLACE=1: "
        "the stack policy then allows it for that one deploy, and the old resources are "
        "retained, not deleted."
    )


def show_plan(p: Release, bucket: str | None, options: Options) -> int:
    """`make plan`: 1 when the gate would stop the deploy (and ALLOW_REPLACE is not set)."""
    run_preflight(p)
    session, bucket = session_and_bucket(p, bucket)
    s3, cfn = session.client("s3"), session.client("cloudformation")
    if ensure_bucket(s3, bucket, p.region):
        print(f"created artifact bucket {bucket} (encrypted, versioned, private)")
    stack = live_stack(cfn, p.stack_name)
    if stack and stack["StackStatus"] == FAILED_CREATE:
        print(f"{p.stack_name}: its first create failed ({FAILED_CREATE}); make deploy deletes "
              "the empty stack and creates every resource again.")  # fmt: skip
        return 0
    if stack:
        recorded = drift.read_record(s3, bucket, p.stack_name)
        found = drift.compare(p.template, p.file_values, live_parameters(stack), recorded)
        if found.differences or found.not_in_file:
            print(found.report(p.params_dir / f"{p.stage}.json"))
    gate = replacement_gate(cfn, s3, p, bucket, stack, {**p.values, "ArtifactBucket": bucket})
    if gate.blocked():
        print(blocked_message(gate), file=sys.stderr)
        return 0 if options.allow_replace else 1
    return 0


def outputs(p: Release) -> int:
    """`make outputs`: the live stack's outputs."""
    import boto3

    stack = live_stack(boto3.Session(region_name=p.region).client("cloudformation"), p.stack_name)
    if not stack:
        raise DeployError(f"{p.stack_name} does not exist in {p.region}; make deploy first.")
    print(f"{p.stack_name}: {stack['StackStatus']}")
    print_outputs(stack)
    return 0


def tail_logs(p: Release, function: str, follow: bool) -> int:
    """`make logs FN=...`: the function's log group, tailed until Ctrl-C."""
    import boto3

    logs.log_group_id(function)  # a bad FN fails before any AWS call
    session = boto3.Session(region_name=p.region)
    group = logs.log_group(session.client("cloudformation"), p.stack_name, function)
    print(f"{group} (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a tail ends
        logs.tail(session.client("logs"), group, follow=follow,
                  out=lambda line: print(line, flush=True))  # fmt: skip
    return 0


def destroy(stage: str, stack_name: str, region: str, yes: bool, purge: bool) -> int:
    """`make destroy`: confirm, delete the stack with its events shown, list what it retained
    and, with PURGE=1 (never prod), delete that too (tools.deploy.teardown)."""
    if purge and stage == "prod":
        raise DeployError("PURGE=1 is never allowed for prod: its data outlives its stack.")
    import boto3

    session = boto3.Session(region_name=region)
    cfn = session.client("cloudformation")
    stack = live_stack(cfn, stack_name)
    if not stack:
        raise DeployError(f"{stack_name} does not exist in {region}: nothing to destroy.")
    if stack.get("EnableTerminationProtection"):
        raise DeployError(
            f"{stack_name} has termination protection (prod): turn it off on purpose first "
            f"(aws cloudformation update-termination-protection --no-enable-termination-protection "
            f"--stack-name {stack_name} --region {region})."
        )
    teardown.confirm(stack_name, yes)
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    kept = teardown.retained(template, preflight.live_resources(cfn, stack_name) or {})
    tail = events.EventTail(cfn, stack["StackId"], out=lambda line: print(line, flush=True))
    tail.start()
    cfn.delete_stack(StackName=stack["StackId"])
    status = wait_for_delete(cfn, stack["StackId"])
    tail.finish()
    if status != "DELETE_COMPLETE":
        failed = tail.failure()
        reason = failed.get("ResourceStatusReason", "") if failed else ""
        raise DeployError(f"{stack_name}: {status}. {reason}".strip())
    print(f"{stack_name}: deleted. Retained ({len(kept)}):")
    for r in kept:
        print(f"  {r.resource_type:<24} {r.logical_id:<24} {r.physical_id}")
    if purge:
        print("PURGE=1: deleting the retained resources")
        for r in kept:
            teardown.purge(session, r)
    elif kept:
        print(f"They hold data and stay. make destroy STAGE={stage} PURGE=1 deletes them too.")
    return 0


def wait_for_delete(cfn: Any, stack_id: str, seconds: int = 3600) -> str:
    """DELETE_COMPLETE, or the status the delete stopped in (boto3's stack_delete_complete
    waiter, polling every 2 s; its failure states are CloudFormation's)."""
    waiting = {"Delay": 2, "MaxAttempts": max(1, seconds // 2)}
    try:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id, WaiterConfig=waiting)
    except WaiterError:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        return f"{status} (gave up waiting)" if status == "DELETE_IN_PROGRESS" else status
    return "DELETE_COMPLETE"


COMMANDS = ("deploy", "plan", "preflight", "outputs", "logs", "destroy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", nargs="?", default="deploy", choices=COMMANDS)
    parser.add_argument("--stage", required=True, help="dev, test or prod")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-west-2"))
    parser.add_argument("--stack-name", help="default: items-api-<stage>")
    parser.add_argument("--artifact-bucket", help="default: items-api-artifacts-<account>-<region>")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the built dist/")
    parser.add_argument("--params-dir", type=Path, default=ROOT / "params", help="stage files")
    parser.add_argument("--allow-replace", action="store_true", help="ALLOW_REPLACE=1")
    parser.add_argument("--adopt", action="store_true", help="ADOPT=1")
    parser.add_argument("--force", action="store_true", help="FORCE=1")
    parser.add_argument(
        "--role-arn",
        help="ROLE_ARN=...: the CloudFormation service role deploy passes (default: none)",
    )
    parser.add_argument("--yes", action="store_true", help="YES=1: destroy without asking")
    parser.add_argument("--purge", action="store_true", help="PURGE=1: destroy retained data")
    parser.add_argument("--fn", help="logs: the function, e.g. get_item or get-item")
    parser.add_argument("--no-follow", action="store_true", help="logs: print and exit")
    args = parser.parse_args(argv)
    stack_name = args.stack_name or f"{PROJECT}-{args.stage}"
    options = Options(args.allow_replace, args.adopt, args.force, args.role_arn)
    try:
        check_stage(args.stage)
        if args.command == "destroy":
            return destroy(args.stage, stack_name, args.region, args.yes, args.purge)
        if args.command == "logs" and not args.fn:
            raise DeployError("make logs needs FN=<function>, e.g. FN=get_item")
        p = prepare(args.stage, stack_name, args.region, args.dist, args.params_dir)
        if args.command == "plan":
            return show_plan(p, args.artifact_bucket, options)
        if args.command == "preflight":
            run_preflight(p)
            return 0
        if args.command == "outputs":
            return outputs(p)
        if args.command == "logs":
            return tail_logs(p, args.fn, follow=not args.no_follow)
        deploy(p, args.artifact_bucket, options)
    except (
        DeployError,
        stage_params.ParamsError,
        teardown.TeardownError,
        logs.LogsError,
        changes.ChangeSetError,
        preflight.PreflightError,
    ) as e:
        print(f"{args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
