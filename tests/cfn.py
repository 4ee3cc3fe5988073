"""Reading the built template in tests: references, parameter subsets, stage values."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from templates import stage_params

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


def resources_of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def subset(template: dict, logical_ids: list[str]) -> dict:
    """A template of just these resources, the conditions, and the parameters they reference."""
    resources = {i: template["Resources"][i] for i in logical_ids}
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
