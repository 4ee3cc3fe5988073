"""Reading the built template in tests: references, parameter subsets, stage values."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from tools.deploy import stage_params

ROOT = Path(__file__).resolve().parents[1]


def references(node: object) -> Iterator[str]:
    """Every logical ID or parameter a node Refs, GetAtts or names in a Sub."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                if not value.startswith("AWS::"):  # pseudo parameters are no resources
                    yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                yield from (v.split(".")[0] for v in _sub_names(text) if v not in local)
                yield from references(local)
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _sub_names(text: str) -> Iterator[str]:
    yield from (m for m in re.findall(r"\$\{([^!}][^}]*)\}", text) if not m.startswith("AWS::"))


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


def with_dependencies(template: dict, logical_ids: list[str]) -> list[str]:
    """These resources and every resource they reference, directly or not, in template order."""
    wanted, todo = set(), list(logical_ids)
    while todo:
        rid = todo.pop()
        if rid in wanted:
            continue
        wanted.add(rid)
        resource = template["Resources"][rid]
        todo += [r for r in references(resource) if r in template["Resources"]]
        todo += resource.get("DependsOn", [])
    return [r for r in template["Resources"] if r in wanted]


def subset(template: dict, logical_ids: list[str]) -> dict:
    """A template of just these resources and those they need, the conditions, and the
    parameters they reference."""
    resources = {i: template["Resources"][i] for i in with_dependencies(template, logical_ids)}
    conditions = template.get("Conditions", {})
    used = set(references(resources)) | set(references(conditions))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {k: v for k, v in template["Parameters"].items() if k in used},
        "Conditions": conditions,
        "Resources": resources,
    }


def stage_values(template: dict, stage: str) -> dict[str, str]:
    return stage_params.validate(ROOT / "params" / f"{stage}.json", template)


def stack_parameters(template: dict, values: dict[str, str]) -> list[dict]:
    """create_stack Parameters for the template's parameters found in `values`."""
    return [
        {"ParameterKey": k, "ParameterValue": values[k]}
        for k in template.get("Parameters", {})
        if k in values
    ]


def dumps(template: dict) -> str:
    return json.dumps(template)


def parameter_values(template: dict, values: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: the given ones, else the template's Default."""
    defaults = {k: str(v["Default"]) for k, v in template["Parameters"].items() if "Default" in v}
    return {**defaults, **values}


class Resolver:
    """Evaluates a template's Conditions and the intrinsics that depend only on parameters
    (Ref to a parameter, Fn::If, Fn::Equals/Not/And/Or, Fn::Join, Fn::Sub of parameters), as
    CloudFormation would for these parameter values. Refs to resources stay as they are."""

    def __init__(self, template: dict, values: dict[str, str]) -> None:
        self.template = template
        self.values = parameter_values(template, values)
        self.conditions = {
            name: self.truth(body) for name, body in template.get("Conditions", {}).items()
        }

    def truth(self, node: dict) -> bool:
        ((fn, args),) = node.items()
        if fn == "Condition":  # conditions may name others, in any order
            return self.truth(self.template["Conditions"][args])
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.truth(args[0])
        if fn == "Fn::And":
            return all(self.truth(a) for a in args)
        if fn == "Fn::Or":
            return any(self.truth(a) for a in args)
        raise ValueError(f"not a condition function: {fn}")

    def resolve(self, node: object) -> object:
        if isinstance(node, list):
            return [r for r in (self.resolve(n) for n in node) if r is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, args),) = node.items()
            if fn == "Ref" and args in self.values:
                kind = self.template["Parameters"].get(args, {}).get("Type")
                value = self.values[args]
                return value.split(",") if kind == "CommaDelimitedList" else value
            if fn == "Ref" and args == "AWS::NoValue":
                return NO_VALUE
            if fn == "Fn::If":
                name, yes, no = args
                return self.resolve(yes if self.conditions[name] else no)
            if fn == "Fn::Join":
                delimiter, items = args
                return delimiter.join(str(i) for i in self.resolve(items))
            if fn == "Fn::Sub" and isinstance(args, str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.values.get(m[1], m[0]), args)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def resource(self, logical_id: str) -> dict | None:
        """The resource as created for these values, or None when its Condition is false."""
        r = self.template["Resources"][logical_id]
        if "Condition" in r and not self.conditions[r["Condition"]]:
            return None
        return self.resolve(r)


NO_VALUE = object()


def _condition_parameters(template: dict, name: str) -> set[str]:
    """Parameters a condition depends on, through the conditions it names."""
    body = template["Conditions"][name]
    found = set(references(body)) & set(template["Parameters"])
    for nested in _named_conditions(body):
        found |= _condition_parameters(template, nested)
    return found


def _named_conditions(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                yield value
            else:
                yield from _named_conditions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _named_conditions(item)


def parameter_reach(template: dict) -> dict[str, set[tuple[str, str]]]:
    """parameter -> {(logical ID, top-level property)} it reaches through Ref, Sub, or the
    condition of an Fn::If (a resource's own Condition reaches all its properties)."""
    reach: dict[str, set[tuple[str, str]]] = {p: set() for p in template["Parameters"]}

    def walk(node: object, rid: str, prop: str) -> None:
        if isinstance(node, dict):
            if "Fn::If" in node:
                for p in _condition_parameters(template, node["Fn::If"][0]):
                    reach[p].add((rid, prop))
            for p in set(references(node)) & set(reach):
                reach[p].add((rid, prop))
            for value in node.values():
                walk(value, rid, prop)
        elif isinstance(node, list):
            for item in node:
                walk(item, rid, prop)

    for rid, resource in template["Resources"].items():
        for prop, value in resource.get("Properties", {}).items():
            walk(value, rid, prop)
            if "Condition" in resource:
                for p in _condition_parameters(template, resource["Condition"]):
                    reach[p].add((rid, prop))
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
