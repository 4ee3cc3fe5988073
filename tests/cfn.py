"""Reading the built template in tests: references, policies, parameter reach, resource
schemas, and the built stack in moto."""

import json
from collections.abc import Iterator
from pathlib import Path

from tools import intrinsics
from tools.local.stack import stack_parameters

ROOT = Path(__file__).resolve().parents[1]
references = intrinsics.named  # the logical IDs and parameters a node names


def policy_statements(template: dict) -> Iterator[tuple[str, dict]]:
    """(logical ID, statement) for every statement of every IAM policy the stack defines: the
    functions' policy resources (both sides of a HistoryMode Fn::If) and inline role policies."""
    for rid, res in template["Resources"].items():
        props = res.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if res["Type"] == "AWS::IAM::Policy":
            documents.append(props["PolicyDocument"])
        for document in documents:
            for variant in document["Fn::If"][1:] if "Fn::If" in document else [document]:
                for statement in variant["Statement"]:
                    yield rid, statement


def function_policy(template: dict, function_id: str) -> str:
    """The logical ID of the IAM policy attached to the function's role (and only to it)."""
    role = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = [
        rid
        for rid, r in resources_of_type(template, "AWS::IAM::Policy").items()
        if r["Properties"]["Roles"] == [{"Ref": role}]
    ]
    return policy


def resources_of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def dumps(template: dict) -> str:
    return json.dumps(template)


def parameter_values(template: dict, values: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: the given ones, else the template's Default."""
    return intrinsics.parameter_values(template, values, pseudo={})


def parameter_reach(template: dict) -> dict[str, set[tuple[str, str]]]:
    """parameter -> {(logical ID, top-level property)} it reaches through Ref, Sub, or the
    condition of an Fn::If (a resource's own Condition reaches all its properties)."""
    reach: dict[str, set[tuple[str, str]]] = {p: set() for p in template["Parameters"]}
    for rid, resource in template["Resources"].items():
        condition = {"Condition": resource["Condition"]} if "Condition" in resource else {}
        for prop, value in resource.get("Properties", {}).items():
            for parameter in intrinsics.parameters_read(template, [condition, value]):
                reach[parameter].add((rid, prop))
    return reach


def _schemas() -> Iterator[dict]:
    import cfnlint

    for path in (Path(cfnlint.__file__).parent / "data" / "schemas" / "resources").glob("*.json"):
        schema = json.loads(path.read_text())
        if "typeName" in schema:
            yield schema


def taggable_types() -> set[str]:
    """Resource types whose CloudFormation schema takes a Tags property."""
    return {
        s["typeName"]
        for s in _schemas()
        if s.get("tagging", {}).get("taggable") and "Tags" in s.get("properties", {})
    }


def create_only_properties() -> dict[str, set[str]]:
    """Resource type -> its (conditional) createOnlyProperties (top level), from the
    CloudFormation resource schemas bundled with cfn-lint: a change to one of them may replace
    the resource (DynamoDB's KeySchema is a conditional one)."""
    return {
        schema["typeName"]: {
            p.split("/")[2]
            for key in ("createOnlyProperties", "conditionalCreateOnlyProperties")
            for p in schema.get(key, [])
        }
        for schema in _schemas()
    }


ARTIFACT_BUCKET = "artifacts"  # the bucket create_built_stack uploads the artifacts to


def build_keys() -> dict[str, str]:
    """The artifact-key parameters of the last build (dist/manifest.json)."""
    from templates.naming import logical_id

    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    return {logical_id(n, "code", "key"): e["s3_key"] for n, e in manifest["artifacts"].items()}


def create_built_stack(name: str, template: dict, values: dict[str, str], region: str) -> dict:
    """Inside an active moto: the built artifacts uploaded and dist/template.json created as
    stack `name` with `values` (plus the artifact bucket and keys); its status and the
    physical ID of each resource moto made, by logical ID."""
    import boto3

    s3 = boto3.client("s3", region_name=region)
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration=location)
    manifest = json.loads((ROOT / "dist" / "manifest.json").read_text())
    for entry in manifest["artifacts"].values():
        s3.upload_file(str(ROOT / "dist" / entry["file"]), ARTIFACT_BUCKET, entry["s3_key"])
    values = {**values, **build_keys(), "ArtifactBucket": ARTIFACT_BUCKET}
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(
        StackName=name,
        TemplateBody=(ROOT / "dist" / "template.json").read_text(),
        Parameters=stack_parameters(template, values),
        Capabilities=["CAPABILITY_IAM"],
    )
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
        if r.get("LogicalResourceId")  # moto omits it for the types it skips
    }
    return {"status": status, "physical": physical}
