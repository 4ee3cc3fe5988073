"""Stage files (params/<stage>.json) checked against the template's own Parameters.

Every problem names the file, the key and what is allowed, and all problems are reported at
once; nothing here calls AWS, so a bad file fails before any deploy step."""

import json
import re
from pathlib import Path

from templates.parameters import FROM_BUILD, FROM_DEPLOY, FROM_STAGE_FILE, MAX_ITEMS_KEY, supplier
from tools import ROOT
from tools.intrinsics import Evaluator, parameter_values

STAGES = ("dev", "test", "prod")


class ParamsError(ValueError):
    """A stage file that must not reach CloudFormation."""


def check_value(name: str, spec: dict, value: object, most: int | None = None) -> str | None:
    """Why `value` is not allowed for the parameter `spec` (a list: of at most `most` items),
    or None when it is."""
    allowed = spec.get("ConstraintDescription", "")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"must be a string or a number, not {json.dumps(value)}; {name} {allowed}"
    text = str(value)
    if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
        return f"{text!r} is not allowed; {name} {allowed}"
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            return f"{text!r} is not a number; {name} {allowed}"
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return f"{text} is out of range; {name} {allowed}"
    pattern = spec.get("AllowedPattern")
    # CloudFormation matches a CommaDelimitedList's pattern against each element.
    elements = text.split(",") if spec.get("Type") == "CommaDelimitedList" else [text]
    if pattern and not all(re.fullmatch(pattern, e) for e in elements):
        return f"{text!r} does not match {pattern}; {name} {allowed}"
    if most is not None and len(elements) > most:
        return f"{text!r} has {len(elements)} items, at most {most} are allowed; {name} {allowed}"
    return None


def validate(path: Path, template: dict, stage: str | None = None) -> dict[str, str]:
    """Load and check one stage file; return its values as CloudFormation strings."""
    stage = stage or path.stem
    if stage not in STAGES:
        raise ParamsError(f"{path}: unknown stage {stage!r}; stages are: {', '.join(STAGES)}.")
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such file; stages are: {', '.join(STAGES)}.") from None
    except json.JSONDecodeError as e:
        raise ParamsError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}).") from None
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: must be a JSON object of parameter name -> value.")

    specs = template["Parameters"]
    most = template.get("Metadata", {}).get(MAX_ITEMS_KEY, {})
    settable = sorted(n for n in specs if supplier(n) == FROM_STAGE_FILE)
    problems = []
    for key, value in values.items():
        if key not in specs:
            problems.append(
                f"{key}: unknown parameter; a stage file may set: {', '.join(settable)}"
            )
        elif supplier(key) == FROM_BUILD:
            problems.append(f"{key}: set by the build (artifact keys), not by a stage file")
        elif supplier(key) == FROM_DEPLOY:
            problems.append(f"{key}: set by make deploy (ARTIFACT_BUCKET=...), not by a stage file")
        elif why := check_value(key, specs[key], value, most.get(key)):
            problems.append(f"{key}: {why}")
    for key in settable:
        if key not in values and "Default" not in specs[key]:
            problems.append(f"{key}: missing; required, {specs[key]['Description']}")
    if not problems:
        problems += broken_rules(template, {k: str(v) for k, v in values.items()})
    if "Stage" in values and values["Stage"] != stage:
        problems.append(f"Stage: is {values['Stage']!r} in the file for stage {stage!r}")
    if problems:
        raise ParamsError(f"{path}:\n  " + "\n  ".join(problems))
    return {k: str(v) for k, v in sorted(values.items())}


def stage_values(template: dict, stage: str) -> dict[str, str]:
    """The checkout's params/<stage>.json, checked against `template` (validate)."""
    return validate(ROOT / "params" / f"{stage}.json", template)


def broken_rules(template: dict, values: dict[str, str]) -> list[str]:
    """The template's own Rules, checked before CloudFormation would: same verdict, earlier."""
    evaluator = Evaluator(template, with_defaults(template, values))
    return [f"{name}: {why}" for name, why in evaluator.failed_assertions()]


def with_defaults(template: dict, values: dict[str, str]) -> dict[str, str]:
    """Every parameter with a value: `values`, else the template's Default written out. Sent
    whole, no parameter is left to `aws cloudformation deploy`'s UsePreviousValue, which
    would keep a console edit of a parameter the stage file does not set."""
    return parameter_values(template, values, pseudo={})


def overrides(values: dict[str, str]) -> list[str]:
    """The `Key=Value` list `aws cloudformation deploy --parameter-overrides file://` takes
    on awscli v1 and v2 alike."""
    return [f"{k}={v}" for k, v in sorted(values.items())]
