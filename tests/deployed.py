"""The template as CloudFormation deploys it for given parameter values, for the tests of the
rules AWS enforces (tests/templates/test_aws_rules.py) and of canary deployments
(tests/templates/test_canary.py): every intrinsic resolved, with made-up values for what only AWS
assigns (a layer's version number, a table's stream label), and replacement by create-only
properties."""

import functools
from dataclasses import dataclass, field

from templates.catalog import FunctionSpec
from templates.deployments import NOT_VERSIONED
from templates.naming import logical_id
from tests.cfn import create_only_properties, references, resources_of_type
from tools.intrinsics import Evaluator, parameter_values

# What only AWS assigns. A stream label is "a timestamp, in ISO 8601 format"
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Stream.html), the
# end of a StreamArn, `.../stream/2015-11-30T20:10:00.000` in CloudFormation's example.
STREAM_LABELS = ("2015-11-30T20:10:00.000", "2015-11-30T20:10:00.001")  # a table, its successor
VERSION, LAYER = "AWS::Lambda::Version", "AWS::Lambda::LayerVersion"
PSEUDO = {"AWS::StackName": "items-api-prod", "AWS::Region": "us-west-2",
          "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
          "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
CREATE_ONLY = functools.cache(create_only_properties)  # the schemas, read once


def function_id(spec: FunctionSpec) -> str:
    return logical_id(spec.name, "function")


def of_function(template: dict, type_: str, spec: FunctionSpec) -> tuple[str, dict]:
    """The one resource of `type_` whose FunctionName is the function's Ref."""
    [(rid, resource)] = [
        (rid, r)
        for rid, r in resources_of_type(template, type_).items()
        if r["Properties"]["FunctionName"] == {"Ref": function_id(spec)}
    ]
    return rid, resource


def settings_record(template: dict) -> str:
    """The LayerVersion that no function attaches: the record of the functions' settings."""
    attached = {r for f in resources_of_type(template, "AWS::Lambda::Function").values()
                for r in references(f["Properties"].get("Layers", []))}  # fmt: skip
    [rid] = [rid for rid in resources_of_type(template, LAYER) if rid not in attached]
    return rid


# Intrinsic functions, as CloudFormation resolves them for one set of parameter values and
# what AWS assigns (a layer's version number, a table's stream label)


@dataclass
class Deployed:
    """A template resolved for parameter values (tools.intrinsics), each resource in a
    generation (1; 2 once a change of create-only properties replaced it)."""

    template: dict
    values: dict[str, str]
    generations: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {**parameter_values(self.template, self.values), **PSEUDO}
        self.resolve = Evaluator(self.template, values, self._assigned).resolve

    def _assigned(self, name: str, attribute: str | None) -> str:
        """What AWS assigns a resource of this generation: a layer's version number, a table's
        stream label; anything else stands for itself."""
        generation = self.generations.get(name, 1)
        if attribute is None and self.template["Resources"][name]["Type"] == LAYER:
            return f"arn:aws:lambda:us-west-2:123456789012:layer:{name}:{generation}"
        if attribute == "StreamArn":
            return (f"arn:aws:dynamodb:us-west-2:123456789012:table/{name}-{generation}/stream/"
                    f"{STREAM_LABELS[generation - 1]}")  # fmt: skip
        return f"<{name}#{generation}{'' if attribute is None else '.' + attribute}>"

    def create_only(self, rid: str) -> dict:
        """The resource's create-only properties as resolved: a change to them replaces it."""
        resource = self.template["Resources"][rid]
        names = CREATE_ONLY().get(resource["Type"], set())
        props = resource.get("Properties", {})
        return {p: self.resolve(props[p]) for p in sorted(names) if p in props}


def deploy(template: dict, before: dict[str, str], after: dict[str, str]) -> Deployed:
    """`after`'s values deployed over a stack made with `before`'s: in document order (the
    order of dependencies), a resource whose create-only properties resolve differently, or
    name a resource that was replaced, is replaced."""
    old = Deployed(template, before)
    new = Deployed(template, after)
    for rid in template["Resources"]:
        if old.create_only(rid) != new.create_only(rid):
            new.generations[rid] = 2
    return new


def version_description(template: dict, spec: FunctionSpec, deployed: Deployed) -> str:
    _, version = of_function(template, VERSION, spec)
    return str(deployed.resolve(version["Properties"]["Description"]))


def versioned(template: dict, spec: FunctionSpec, deployed: Deployed) -> dict:
    """The function as a version captures it (not its function-level settings, nor its code's
    bucket: the key names the content), resolved."""
    props = template["Resources"][function_id(spec)]["Properties"]
    props = {k: v for k, v in props.items() if k not in NOT_VERSIONED}
    props["Code"] = {k: v for k, v in props["Code"].items() if k != "S3Bucket"}
    return deployed.resolve(props)
