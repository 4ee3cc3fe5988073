"""`make plan`: what a deploy would change, from CloudFormation itself, and the gate.

A change set of the freshly built template and parameters is created against the live stack
(CREATE for a new one), read, printed as a table and deleted; nothing is executed. (For a new
stack, CloudFormation leaves an empty stack in REVIEW_IN_PROGRESS: it is deleted too. It carries
PLAN_SHELL_TAG, so CI's plan role may delete that shell and no stack a deploy made:
templates/deploy_permissions.py.)

The gate: a stateful resource (templates/stack_policy.STATEFUL_TYPES: table, bucket, KMS key,
log group, queue) that would be removed, or replaced (Replacement True or Conditional), blocks
the deploy unless ALLOW_REPLACE=1. Besides what the change set says, a changed parameter of
parameters.REPLACING (the table's key names) blocks too: that replacement is known from the
template, whatever the change set reports.
"""

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import WaiterError

from templates import deploy_permissions
from templates.parameters import REPLACING
from tools.deploy.stack_policy import STATEFUL_TYPES

REPLACES = ("True", "Conditional")
# boto3 waiters' settings: poll every second, for at most 5 minutes.
WAITING = {"Delay": 1, "MaxAttempts": 300}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# The tag of the empty stack a CREATE change set makes: the only stack CI's plan role may delete.
PLAN_SHELL_TAG = dict(zip(("Key", "Value"), deploy_permissions.PLAN_SHELL_TAG, strict=True))


class ChangeSetError(RuntimeError):
    """CloudFormation refused or did not finish the change set: its reason, for the operator."""


@dataclass(frozen=True)
class Change:
    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove | Import | Dynamic
    replacement: str  # True | False | Conditional | "" (not a Modify)
    causes: tuple[str, ...] = ()  # the properties that make it recreate (or change)


@dataclass
class Preview:
    stack_name: str
    change_set_type: str  # CREATE | UPDATE
    changes: list[Change] = field(default_factory=list)
    parameters: list[tuple[str, str | None, str]] = field(default_factory=list)  # key, live, new
    status_reason: str = ""

    def blocked(self) -> list[str]:
        """Why the gate stops this deploy (empty: it may go)."""
        reasons = [
            f"{c.logical_id} ({c.resource_type}) would be "
            + ("deleted" if c.action == "Remove" else f"replaced ({', '.join(c.causes) or '?'})")
            for c in self.changes
            if c.resource_type in STATEFUL_TYPES
            and (c.action == "Remove" or (c.action == "Modify" and c.replacement in REPLACES))
        ]
        for key, live, new in self.parameters:
            if key in REPLACING and live is not None:
                reasons.append(f"{key} {live!r} -> {new!r} replaces the table (a new, empty one)")
        return reasons


def _change(raw: dict[str, Any]) -> Change:
    rc = raw["ResourceChange"]
    details = rc.get("Details", [])
    recreating = [
        d["Target"].get("Name", d["Target"].get("Attribute", "?"))
        for d in details
        if d.get("Target", {}).get("RequiresRecreation") in ("Always", "Conditionally")
    ]
    named = recreating or [d["Target"].get("Name", "") for d in details if d.get("Target")]
    return Change(
        logical_id=rc["LogicalResourceId"],
        resource_type=rc.get("ResourceType", "?"),
        action=rc.get("Action", "?"),
        replacement=rc.get("Replacement", "") if rc.get("Action") == "Modify" else "",
        causes=tuple(sorted({n for n in named if n})),
    )


def parameter_differences(
    live: dict[str, str] | None, wanted: dict[str, str]
) -> list[tuple[str, str | None, str]]:
    """(key, live value or None for a new stack, new value), for every value that changes."""
    live = live or {}
    return sorted((k, live.get(k), v) for k, v in wanted.items() if live.get(k) != v)


def template_url(s3: Any, bucket: str, body: bytes) -> str:
    """Upload the template under its content hash (as `aws cloudformation deploy --s3-bucket`
    does): the URL CloudFormation reads it from, path-style on the client's endpoint."""
    key = f"templates/{hashlib.sha256(body).hexdigest()}.template.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"{s3.meta.endpoint_url}/{bucket}/{key}"


def preview(
    cfn: Any,
    stack_name: str,
    url: str,
    values: dict[str, str],
    template_parameters: dict[str, Any],
    live: dict[str, Any] | None,
    live_values: dict[str, str] | None,
    wanted: dict[str, str],
) -> Preview:
    """Create the change set, read it, delete it (and a new stack's empty shell)."""
    change_set_type = "UPDATE" if live else "CREATE"
    name = f"plan-{int(time.time())}"
    parameters = [
        {"ParameterKey": k, "ParameterValue": v}
        for k, v in sorted(values.items())
        if k in template_parameters
    ]
    if live:  # as `aws cloudformation deploy` does: what we do not give keeps its live value
        given = {p["ParameterKey"] for p in parameters}
        parameters += [
            {"ParameterKey": k, "UsePreviousValue": True}
            for k in sorted(set(live_values or {}) & set(template_parameters) - given)
        ]
    shell = {"Tags": [PLAN_SHELL_TAG]} if not live else {}
    try:
        created = cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            TemplateURL=url,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM"],
            **shell,
        )
    except cfn.exceptions.ClientError as error:
        raise ChangeSetError(f"{stack_name}: {error.response['Error']['Message']}") from None
    try:
        described = _wait(cfn, stack_name, name)
        result = Preview(stack_name, change_set_type)
        result.status_reason = described.get("StatusReason", "")
        result.changes = [
            _change(c) for c in described.get("Changes", []) if c.get("Type") == "Resource"
        ]
        result.parameters = parameter_differences(live_values if live else None, wanted)
        return result
    finally:
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        if not live:  # the REVIEW_IN_PROGRESS shell: gone before a deploy may use the name
            cfn.delete_stack(StackName=created["StackId"])
            _wait_deleted(cfn, created["StackId"])


def _wait_deleted(cfn: Any, stack_id: str) -> None:
    try:
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id, WaiterConfig=WAITING)
    except WaiterError as error:
        status = (error.last_response.get("Stacks") or [{}])[0].get("StackStatus", "unknown")
        raise ChangeSetError(f"the empty stack {stack_id} of the plan is {status}") from None


def _wait(cfn: Any, stack_name: str, name: str) -> dict[str, Any]:
    """The created change set with every page of its changes; a change set that failed only
    because nothing changes is an empty one (boto3's change_set_create_complete waiter)."""
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=name, WaiterConfig=WAITING
        )
    except WaiterError as error:
        answer = error.last_response
        status = answer.get("Status") or answer.get("Error", {}).get("Message", "unknown")
        reason = answer.get("StatusReason", "")
        if status == "FAILED" and any(text in reason for text in NO_CHANGES):
            return {"Changes": [], "StatusReason": "no changes"}
        if status == "FAILED":
            raise ChangeSetError(f"change set {name} of {stack_name} failed: {reason}") from None
        raise ChangeSetError(f"change set {name} of {stack_name}: still {status}") from None
    pages = [cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)]
    while pages[-1].get("NextToken"):
        pages.append(
            cfn.describe_change_set(
                StackName=stack_name, ChangeSetName=name, NextToken=pages[-1]["NextToken"]
            )
        )
    described = pages[0]
    described["Changes"] = [c for page in pages for c in page.get("Changes", [])]
    return described


def render(result: Preview, params_file: str) -> str:
    """The plan as an operator reads it: one row per resource change, then the parameters."""
    lines = [f"plan for {result.stack_name} ({result.change_set_type}):"]
    rows = [("logical ID", "type", "action", "replacement", "caused by")] + [
        (c.logical_id, c.resource_type, c.action, c.replacement or "-", ", ".join(c.causes) or "-")
        for c in result.changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines += table if result.changes else ["  no resource changes"]
    if result.change_set_type == "CREATE":
        lines.append(f"parameters: {len(result.parameters)} values from {params_file} (new stack)")
    elif result.parameters:
        lines.append(f"parameters (live -> {params_file}):")
        lines += [f"  {k}: {live!r} -> {new!r}" for k, live, new in result.parameters]
    else:
        lines.append(f"parameters: the live values equal {params_file}")
    return "\n".join(lines)
