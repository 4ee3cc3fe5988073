"""Live parameter values against params/<stage>.json: operators edit parameters in the console,
developers deploy the file; neither may silently undo the other.

Who changed a value is told by a record: after every deploy, `make deploy` writes the values it
deployed to s3://<artifact bucket>/deployed/<stack>.json. A live value that differs from the
record was changed outside make deploy (the console): `make deploy` stops and shows it, with
the file's value. A file value that differs from a live value the record agrees with is simply
the developer's change, and deploys. Without a record (a stack deployed before records), every
live value that differs from the file is shown, since nothing tells who changed it.

Only the stage-file parameters are compared (the artifact keys come from the build and the
artifact bucket from the deploy, so they change on purpose). A parameter the file lacks is
compared with the template's Default, which is what a deploy sets: the build writes every
parameter out (dist/params/<stage>.json), so none is left to UsePreviousValue and FORCE=1
reverts a console edit of any of them. Every such parameter is listed, so a console edit of
one is never invisible. ADOPT=1 writes the live values into the
file (sorted, 2-space JSON, numbers as numbers) and the record; FORCE=1 deploys the file's
values over the live ones.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from templates.parameters import FROM_STAGE_FILE, supplier

RECORD_PREFIX = "deployed"


@dataclass(frozen=True)
class Difference:
    key: str
    live: str
    wanted: str  # the file's value, or the template's Default
    in_file: bool
    deployed: str | None = None  # what the last make deploy set (None: no record)


@dataclass(frozen=True)
class Drift:
    differences: list[Difference]
    not_in_file: list[str]  # stage-file parameters the live stack has and the file does not set

    def report(self, params_file: Path) -> str:
        lines = [f"live stack values differ from {params_file}:"] if self.differences else []
        lines += [
            f"  {d.key}: live {d.live!r}"
            + ("" if d.deployed is None else f", last make deploy {d.deployed!r}")
            + f", {'file' if d.in_file else 'default'} {d.wanted!r}"
            for d in self.differences
        ]
        if self.not_in_file:
            lines.append(
                f"not in {params_file} (the template's Default applies): "
                + ", ".join(self.not_in_file)
            )
        return "\n".join(lines)


def compare(
    template: dict[str, Any],
    file_values: dict[str, str],
    live: dict[str, str],
    recorded: dict[str, str] | None,
) -> Drift:
    """The stage-file parameters changed outside make deploy (see the module docstring)."""
    specs = template["Parameters"]
    differences, not_in_file = [], []
    for key in sorted(specs):
        if supplier(key) != FROM_STAGE_FILE or key not in live:
            continue
        in_file = key in file_values
        if not in_file:
            not_in_file.append(key)
        wanted = file_values[key] if in_file else _text(specs[key].get("Default", ""))
        deployed = None if recorded is None else recorded.get(key)
        # A live value equal to the file's is no conflict, whoever set it.
        changed = live[key] != wanted and (recorded is None or live[key] != deployed)
        if changed:
            differences.append(Difference(key, live[key], wanted, in_file, deployed))
    return Drift(differences, not_in_file)


def record_key(stack_name: str) -> str:
    return f"{RECORD_PREFIX}/{stack_name}.json"


def read_record(s3: Any, bucket: str, stack_name: str) -> dict[str, str] | None:
    """The parameter values the last make deploy set, or None when there is no record."""
    try:
        body = s3.get_object(Bucket=bucket, Key=record_key(stack_name))["Body"].read()
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    return json.loads(body)["parameters"]


def write_record(s3: Any, bucket: str, stack_name: str, values: dict[str, str]) -> None:
    body = json.dumps({"parameters": dict(sorted(values.items()))}, indent=2) + "\n"
    s3.put_object(Bucket=bucket, Key=record_key(stack_name), Body=body.encode())


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def adopt(params_file: Path, template: dict[str, Any], drift: Drift) -> list[str]:
    """Write the live values of `drift` into the stage file; return the keys written. A Number
    parameter is written as a JSON number, everything else as a string, as the files hold them."""
    document = json.loads(params_file.read_text())
    for d in drift.differences:
        number = template["Parameters"][d.key].get("Type") == "Number"
        document[d.key] = _number(d.live) if number else d.live
    params_file.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return [d.key for d in drift.differences]


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value
