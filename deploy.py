#!/usr/bin/env python3
"""Deploy dist/ to one stage's stack with `aws cloudformation deploy`.

Order matters: everything that can be checked without AWS (stage name, params file, built
artifacts) is checked first, so a bad input fails before any AWS call. Then: the artifact bucket
(created locked-down if absent), the artifacts whose keys are missing, and the deploy itself,
skipped when the live stack already has this template and these parameters. Last, on prod, the
stack policy (templates/stack_policy.py), deploy or no deploy."""

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from templates import stage_params
from templates.naming import logical_id
from templates.stack_policy import stack_policy, stateful_resources
from templates.tags import MANAGED_BY

ROOT = Path(__file__).resolve().parent
TEMPLATE_PREFIX = "templates"
PROJECT = "items-api"
# Settled states: the stack runs the template get_template returns (after a rolled-back update,
# the previous one).
# Parameters that shape API Gateway methods or gateway responses. CloudFormation updates the API
# for them but never redeploys a stage for a parameter change (only a new Deployment resource
# does), so make deploy redeploys the stage when one of them changed.
API_SHAPING = (
    "AuthType",
    "RoutePrefix",
    "CorsAllowOrigin",
    "CorsAllowHeaders",
    "CorsMaxAge",
    "CorsAllowCredentials",
)
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
POLICY_STAGES = ("prod",)  # stages whose stack gets the stack policy


class DeployError(Exception):
    """A deploy that must stop, with the reason for the operator."""


@dataclass(frozen=True)
class Plan:
    """What the offline checks established."""

    stage: str
    stack_name: str
    region: str
    dist: Path
    template: dict  # dist/template.json, parsed once
    values: dict[str, str]  # stage values + artifact keys
    artifacts: dict[str, dict]  # manifest entries


def plan(stage: str, stack_name: str, region: str, dist: Path, params_dir: Path) -> Plan:
    """All offline checks; raises before anything talks to AWS."""
    if stage not in stage_params.STAGES:
        raise DeployError(
            f"STAGE={stage!r} is not a stage; stages are: {', '.join(stage_params.STAGES)}."
        )
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
    for key, value in values.items():
        if built.get(key) != value:
            raise DeployError(
                f"{dist}/params/{stage}.json is older than params/{stage}.json ({key}); "
                "run `make template` again."
            )
    for entry in artifacts.values():
        if not (dist / entry["file"]).is_file():
            raise DeployError(f"{dist / entry['file']}: missing; run `make template` again.")
    return Plan(stage, stack_name, region, dist, template, built, artifacts)


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


def upload_missing(s3, bucket: str, p: Plan) -> tuple[int, int]:
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


def unchanged(cfn, stack: dict | None, p: Plan, values: dict[str, str]) -> bool:
    """True when the live stack already runs this template with these parameter values."""
    if not stack or stack["StackStatus"] not in DONE:
        return False
    if live_parameters(stack) != full_parameters(p, values):
        return False
    body = cfn.get_template(StackName=p.stack_name, TemplateStage="Original")["TemplateBody"]
    return (body if isinstance(body, dict) else json.loads(body)) == p.template


def live_parameters(stack: dict) -> dict[str, str]:
    return {x["ParameterKey"]: x["ParameterValue"] for x in stack.get("Parameters", [])}


def full_parameters(p: Plan, values: dict[str, str]) -> dict[str, str]:
    """Every parameter's value as the stack will hold it: the live stack lists defaulted ones
    too."""
    specs = p.template["Parameters"]
    return {k: str(v["Default"]) for k, v in specs.items() if "Default" in v} | values


def api_shaping_changes(p: Plan, stack: dict | None, values: dict[str, str]) -> list[str]:
    """API_SHAPING parameters whose live value differs (none for a new stack: its first
    deployment already has them)."""
    if not stack:
        return []
    live, wanted = live_parameters(stack), full_parameters(p, values)
    return sorted(k for k in API_SHAPING if live.get(k) != wanted.get(k))


def redeploy_stage(apigateway, cfn, stack_name: str, stage: str, changed: list[str]) -> str:
    """A new deployment of the stage, so API changes made by parameters reach it."""
    api_id = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id("api"))[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    deployment = apigateway.create_deployment(
        restApiId=api_id, stageName=stage, description=f"make deploy: {', '.join(changed)} changed"
    )
    return deployment["id"]


def aws_cli() -> str:
    """The awscli installed next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("aws")
    return str(local) if local.exists() else "aws"


def stack_tags(p: Plan, values: dict[str, str]) -> list[str]:
    """The stack's tags: the same five every resource carries (templates/tags.py)."""
    value = full_parameters(p, values)
    return [
        f"Project={value['Project']}",
        f"Environment={p.stage}",
        f"Owner={value['Owner']}",
        f"CostCenter={value['CostCenter']}",
        f"ManagedBy={MANAGED_BY}",
    ]


def cloudformation_deploy(p: Plan, bucket: str, values: dict[str, str]) -> None:
    overrides = p.dist / "deploy" / f"{p.stage}.json"
    overrides.parent.mkdir(parents=True, exist_ok=True)
    overrides.write_text(json.dumps(stage_params.overrides(values), indent=2) + "\n")
    command = [
        aws_cli(), "cloudformation", "deploy",
        "--region", p.region,
        "--stack-name", p.stack_name,
        "--template-file", str(p.dist / "template.json"),
        "--parameter-overrides", f"file://{overrides}",
        "--capabilities", "CAPABILITY_IAM",
        "--s3-bucket", bucket,
        "--s3-prefix", TEMPLATE_PREFIX,
        "--no-fail-on-empty-changeset",
        "--tags", *stack_tags(p, values),
    ]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise DeployError(f"aws cloudformation deploy of {p.stack_name} failed (see above).")


def apply_stack_policy(cfn, p: Plan) -> None:
    """On a POLICY_STAGES stage, set the policy of this template: no replacing or deleting its
    stateful resources on later updates. Set after every deploy, no-op included, so the live
    stack always ends with the current policy (and a hand-loosened one is tightened again)."""
    if p.stage not in POLICY_STAGES:
        return
    body = json.dumps(stack_policy(p.template), indent=2)
    cfn.set_stack_policy(StackName=p.stack_name, StackPolicyBody=body)
    denied = len(stateful_resources(p.template))
    print(f"{p.stack_name}: stack policy set (no replace or delete of {denied} stateful resources)")


def print_outputs(stack: dict) -> None:
    for o in sorted(stack.get("Outputs", []), key=lambda o: o["OutputKey"]):
        print(f"  {o['OutputKey']:<24} {o['OutputValue']}")


def deploy(p: Plan, bucket: str | None) -> None:
    import boto3  # after the offline checks: nothing above may need AWS

    session = boto3.Session(region_name=p.region)
    if not bucket:
        account = session.client("sts").get_caller_identity()["Account"]
        bucket = f"{PROJECT}-artifacts-{account}-{p.region}"
    s3, cfn = session.client("s3"), session.client("cloudformation")
    if ensure_bucket(s3, bucket, p.region):
        print(f"created artifact bucket {bucket} (encrypted, versioned, private)")
    files, size = upload_missing(s3, bucket, p)
    print(
        f"artifacts: {files} uploaded ({size} bytes), {len(p.artifacts) - files} already in s3://{bucket}"
    )
    values = {**p.values, "ArtifactBucket": bucket}
    stack = live_stack(cfn, p.stack_name)
    if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"{p.stack_name} failed its first creation (ROLLBACK_COMPLETE) and cannot be updated: "
            f"see its events, delete it (aws cloudformation delete-stack --stack-name "
            f"{p.stack_name} --region {p.region}) and deploy again. Retained resources stay."
        )
    if unchanged(cfn, stack, p, values):
        print(f"{p.stack_name}: no changes (same template, same parameters); nothing deployed.")
    else:
        changed = api_shaping_changes(p, stack, values)
        cloudformation_deploy(p, bucket, values)
        if changed:
            client = session.client("apigateway")
            deployment = redeploy_stage(client, cfn, p.stack_name, p.stage, changed)
            print(f"API stage {p.stage} redeployed ({deployment}): {', '.join(changed)} changed")
    apply_stack_policy(cfn, p)
    stack = live_stack(cfn, p.stack_name)
    print(f"{p.stack_name}: {stack['StackStatus'] if stack else 'missing'}")
    if stack:
        print_outputs(stack)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, help="dev, test or prod")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-west-2"))
    parser.add_argument("--stack-name", help="default: items-api-<stage>")
    parser.add_argument("--artifact-bucket", help="default: items-api-artifacts-<account>-<region>")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the built dist/")
    parser.add_argument("--params-dir", type=Path, default=ROOT / "params", help="stage files")
    args = parser.parse_args(argv)
    try:
        p = plan(
            args.stage,
            args.stack_name or f"{PROJECT}-{args.stage}",
            args.region,
            args.dist,
            args.params_dir,
        )
        deploy(p, args.artifact_bucket)
    except (DeployError, stage_params.ParamsError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
