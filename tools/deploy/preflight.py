"""`make preflight STAGE=<stage>`: what would make CloudFormation fail (and roll the whole stack
back) for reasons outside the template, found before anything is uploaded, created or planned.
`make deploy` and `make plan` run it first; every refusal is reported at once, each with its
numbers and its fix (which parameter in which params file, or which command).

Offline, before boto3 is even imported:
- name lengths: every name the stack fixes (RULES) must stay within its AWS limit for this
  STACK_NAME; the refusal shows the worst name, its length, the limit and the longest
  STACK_NAME that fits. STACK_NAME itself must be a valid stack name.

Then read-only calls (the checks are skipped when the template does not need them):
- API Gateway's CloudWatch role: a Stage with access logs or execution logging needs the
  account's role in this region (GetAccount cloudwatchRoleArn, an existing IAM role), unless the
  stack sets it itself (an AWS::ApiGateway::Account it creates: CreateApiGatewayAccountRole).
  When the role is set and the stack would set its own too, that is only a warning: the stack
  would replace the account's setting (for every API in the region) with its own role, which
  also works; when the live stack already owns the setting, nothing is said.
- Lambda concurrency: what the functions reserve must leave the account 100 unreserved,
  counting other functions' reservations and not counting twice this stack's own.
- names that exist already outside this stack (a name the live stack owns is no collision).
A check AWS does not answer (AccessDenied, ...) is a warning, "not checked", never a guess.

Names come from the template itself: for each resource of a RULES type that this stage creates
(its Condition, evaluated), the name property resolved by `Names` for the stack name, region,
a placeholder account ID and the stage's parameter values. A name made of another resource's
physical ID (`API-Gateway-Execution-Logs_${Api}/...`: a new ID) cannot collide; its length is
checked with the longest such ID when the ID's length is known.

`Names` is tools.intrinsics.Evaluator (the project's one reader of intrinsics) with what only
the preflight knows: STACK for the stack name, the names RULES make Refs from, `opaque` values.
"""

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.intrinsics import (
    ACCOUNT,
    NO_VALUE,
    Evaluator,
    Unresolvable,
    parameter_values,
    parameters_read,
    pseudo_parameters,
    target,
    text,
)

STACK = "\x01"  # stands for the stack name while resolving, to count where it is used
OPAQUE = re.compile(r"\x00(\d*):([^\x00]*)\x00")  # a value only AWS knows: max length, label
MIN_UNRESERVED = 100  # Lambda keeps at least this many executions unreserved
LAMBDA_QUOTA_CODE = "L-B99A9384"  # Service Quotas: Lambda "Concurrent executions"
STACK_NAME_LIMIT = 128
STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]*")

DOCS = {
    "concurrency": "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",
    "logging": "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html",
    "stack": "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html",
}
LOGGING_ERROR = "CloudWatch Logs role ARN must be set in account settings to enable logging"
ROLE_HOWTO = (
    "a role API Gateway can assume (trusting apigateway.amazonaws.com, with the managed policy "
    "AmazonAPIGatewayPushToCloudWatchLogs)"
)


@dataclass(frozen=True)
class Rule:
    """How one resource type names itself: its name property, AWS's length limit (None: no
    documented limit) and where it is documented, how existence is checked (None: `why` not),
    what Ref returns made from the name ("": an ID AWS makes), and how to delete a leftover."""

    prop: str
    limit: int | None = None
    doc: str = ""
    check: str | None = None
    why: str = ""
    ref: str = "{name}"
    delete: str = ""


# The names the stack fixes, by resource type: a table, kept as data beside this module.
RULES: dict[str, Rule] = {
    kind: Rule(**row)
    for kind, row in tomllib.loads((Path(__file__).parent / "names.toml").read_text()).items()
}
# The longest value a Ref can answer when it is an ID AWS makes (not a name).
REF_ID_LENGTH = {"AWS::ApiGateway::RestApi": 10}


class PreflightError(Exception):
    """Every refusal of one preflight, each with its numbers and its fix."""

    def __init__(self, refusals: list[str]) -> None:
        super().__init__(refusals)
        self.refusals = refusals

    def __str__(self) -> str:
        items = [f"{i}. " + text.replace("\n", "\n   ") for i, text in enumerate(self.refusals, 1)]
        return (
            f"preflight refused ({len(self.refusals)}); nothing was uploaded, created or "
            "changed:\n" + "\n".join(items)
        )


def opaque(label: str, length: int | None = None) -> str:
    """A value only AWS will know (an ID, an attribute), of at most `length` characters."""
    return f"\x00{'' if length is None else length}:{label}\x00"


class Names(Evaluator):
    """The template's intrinsics (tools.intrinsics.Evaluator) for one stack name, region and
    set of parameter values (template Defaults for the rest). The stack name stays STACK; a
    resource's Ref is made from its name where RULES say how; what only AWS knows (an
    attribute, an ID, a function not evaluated) is an `opaque` value."""

    def __init__(
        self, template: dict[str, Any], stack_name: str, region: str, values: dict[str, str]
    ) -> None:
        pseudo = pseudo_parameters(region, ACCOUNT, STACK, opaque("stack id", 36))
        super().__init__(template, parameter_values(template, values, pseudo))
        self.stack_name, self.region = stack_name, region
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.partition = self.values["AWS::Partition"]

    def created_of_type(self, resource_type: str) -> list[str]:
        """The logical IDs of the resources of this type that these values create."""
        return [
            lid
            for lid, r in self.resources.items()
            if r["Type"] == resource_type and self.created(lid)
        ]

    def unresolved(self, node: dict[str, Any], error: Unresolvable) -> str:
        """GetAZs, ImportValue, ...: not knowable before AWS, yet a name may hold it."""
        return opaque(next(iter(node)))

    def resource_value(self, name: str, attribute: str | None) -> str:
        """A resource's Ref: its name (as RULES make the Ref of it) or an ID; an attribute is
        AWS's."""
        resource = self.resources.get(name)
        if attribute is not None or resource is None:
            return opaque(name if attribute is None else f"{name}.{attribute}")
        rule = RULES.get(resource["Type"])
        if rule and rule.ref:
            given = resource.get("Properties", {}).get(rule.prop)
            made = self.resolve(given) if given is not None else NO_VALUE
            if not isinstance(made, str):  # no name given: CloudFormation makes one
                made = opaque(f"{name} name", rule.limit)
            return rule.ref.format(
                name=made, region=self.region, account=ACCOUNT, partition=self.partition
            )
        return opaque(f"{name} id", REF_ID_LENGTH.get(resource["Type"]))


@dataclass(frozen=True)
class Name:
    """One name the stack would create, as resolved (STACK and opaque values kept)."""

    logical_id: str
    resource_type: str
    raw: str
    stack_name: str

    @property
    def rule(self) -> Rule:
        return RULES[self.resource_type]

    @property
    def fixed(self) -> bool:
        """Fully known before the deploy: it may exist already."""
        return "\x00" not in self.raw

    @property
    def text(self) -> str:
        shown = self.raw.replace(STACK, self.stack_name)
        return OPAQUE.sub(lambda m: f"<{m[2]}>", shown)

    def length(self, stack_length: int | None = None) -> int | None:
        """The longest this name can be (None: unknown), for a stack name of that length."""
        ids = [m[1] for m in OPAQUE.finditer(self.raw)]
        if any(i == "" for i in ids):
            return None
        base = len(OPAQUE.sub("", self.raw).replace(STACK, "")) + sum(int(i) for i in ids)
        n = len(self.stack_name) if stack_length is None else stack_length
        return base + n * self.raw.count(STACK)

    def longest_stack_name(self) -> int | None:
        """The longest STACK_NAME this name fits its limit with (None: any)."""
        uses, longest = self.raw.count(STACK), self.length(0)
        if not uses or longest is None or self.rule.limit is None:
            return None
        return (self.rule.limit - longest) // uses


def derived_names(names: Names) -> list[Name]:
    """Every name property of a RULES resource this stage creates, resolved."""
    found = []
    for logical_id, resource in names.resources.items():
        rule = RULES.get(resource["Type"])
        given = resource.get("Properties", {}).get(rule.prop) if rule else None
        if given is None or not names.created(logical_id):
            continue
        value = names.resolve(given)
        if isinstance(value, str):
            found.append(Name(logical_id, resource["Type"], value, names.stack_name))
    return found


# Name lengths: offline


def length_refusals(names: Names, derived: list[Name], params_file: str) -> list[str]:
    """STACK_NAME's own rules, and every derived name within its limit (no AWS call)."""
    stack, refusals = names.stack_name, []
    if len(stack) > STACK_NAME_LIMIT or not STACK_NAME_PATTERN.fullmatch(stack):
        refusals.append(
            f"STACK_NAME {stack!r} is not a CloudFormation stack name: a letter, then letters, "
            f"digits and hyphens, at most {STACK_NAME_LIMIT} characters ({DOCS['stack']})."
        )
    over = [n for n in derived if n.rule.limit is not None and (n.length() or 0) > n.rule.limit]
    if not over:
        return refusals
    over.sort(key=lambda n: ((n.length() or 0) - (n.rule.limit or 0), n.text), reverse=True)
    worst = over[0]
    lines = [
        f"{len(over)} names would be longer than AWS allows (STACK_NAME {stack!r}, "
        f"{len(stack)} characters):"
    ]
    shown: dict[str, int] = {}
    for n in over:
        shown[n.resource_type] = shown.get(n.resource_type, 0) + 1
        if shown[n.resource_type] <= 3:
            lines.append(
                f"  {n.resource_type} {n.logical_id} {n.rule.prop}: {n.text!r} is "
                f"{n.length()} characters, limit {n.rule.limit} ({n.rule.doc})"
            )
    lines += [
        f"  ... and {count - 3} more {kind} names" for kind, count in shown.items() if count > 3
    ]
    lines.append(
        f"The longest for its limit: {worst.text!r}, {worst.length()} characters, "
        f"limit {worst.rule.limit}."
    )
    fits = [n.longest_stack_name() for n in derived]
    fitting = min([STACK_NAME_LIMIT] + [f for f in fits if f is not None])
    stackless = [n for n in over if STACK not in n.raw]
    if len(stackless) < len(over):
        lines.append(
            f"The longest STACK_NAME that fits every name: {fitting} characters.\n"
            f"Fix: STACK_NAME=<at most {fitting} characters>."
        )
    for n in stackless:
        node = names.resources[n.logical_id]["Properties"][n.rule.prop]
        made_of = ", ".join(parameters_read(names.template, node)) or "the template"
        lines.append(f"{n.text!r} does not contain STACK_NAME: shorten {made_of} in {params_file}.")
    refusals.append("\n".join(lines))
    return refusals


def lengths_summary(derived: list[Name]) -> str:
    """The passing line: the name closest to its limit and the longest STACK_NAME that fits."""
    known = [(n.rule.limit - length, n, length) for n in derived
             if n.rule.limit is not None and (length := n.length()) is not None]  # fmt: skip
    fits = [f for f in (n.longest_stack_name() for n in derived) if f is not None]
    line = f"name lengths: {len(derived)} names within AWS limits"
    if known:
        _, closest, length = min(known, key=lambda k: (k[0], k[1].text))
        line += f"; closest: {closest.text!r} {length} of {closest.rule.limit}"
    return line + f"; STACK_NAME may have up to {min([STACK_NAME_LIMIT, *fits])} characters"


# Read-only AWS checks


@dataclass
class Report:
    """What one preflight found: lines for the operator, warnings, refusals."""

    out: Callable[[str], None] = print
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def ok(self, line: str) -> None:
        self.out(f"  {line}")

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.out(f"  WARNING: {text}")


@dataclass(frozen=True)
class Context:
    """What the checks that ask AWS read: the session, the stage's names (and those the stack
    fixes), the live stack's resources (None: no stack yet), the stage and its file for the
    messages, and the report they add to."""

    session: Any
    names: Names
    derived: list[Name]
    live: dict[str, tuple[str, str]] | None
    params_file: str
    stage: str
    report: Report


def _code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


def live_resources(cfn: Any, stack_name: str) -> dict[str, tuple[str, str]] | None:
    """The live stack's resources, logical ID -> (type, physical ID); None without a stack.
    (ListStackResources, not DescribeStackResources: that one stops at 100 resources.)"""
    try:
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        summaries = [r for page in pages for r in page["StackResourceSummaries"]]
    except _client_error() as error:
        if "does not exist" in str(error):
            return None
        raise
    return {
        r["LogicalResourceId"]: (r.get("ResourceType", ""), r.get("PhysicalResourceId", ""))
        for r in summaries
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def check_cloudwatch_role(ctx: Context) -> None:
    """Access or execution logging of a Stage needs the account's CloudWatch role."""
    logging = [
        lid
        for lid in ctx.names.created_of_type("AWS::ApiGateway::Stage")
        if _logs(ctx.names.resolve(ctx.names.resources[lid].get("Properties", {})))
    ]
    if not logging:
        ctx.report.ok("API Gateway CloudWatch role: not needed (no stage writes logs)")
        return
    accounts = [
        k for k, r in ctx.names.resources.items() if r["Type"] == "AWS::ApiGateway::Account"
    ]
    creating = any(ctx.names.created(a) for a in accounts)
    conditions = [
        {"Condition": c} for a in accounts if (c := ctx.names.resources[a].get("Condition"))
    ]
    switch = parameters_read(ctx.names.template, conditions)
    switch_now = ", ".join(f"{k}={ctx.names.values.get(k, '')}" for k in switch)
    set_role = (
        f"set {ROLE_HOWTO}: aws apigateway update-account --patch-operations "
        f"op=replace,path=/cloudwatchRoleArn,value=<role ARN> --region {ctx.names.region}"
    )
    let_stack = (
        f'set "{switch[0]}": "true" in {ctx.params_file} (this stack then creates the role '
        "and sets it; one stack per account and region), or "
        if len(switch) == 1
        else ""
    )
    fails = (
        f'the logging of {", ".join(logging)} would fail the stage with "{LOGGING_ERROR}" '
        f"and roll the whole stack back ({DOCS['logging']})"
    )
    where = f"API Gateway in {ctx.names.region}"
    arn = ctx.session.client("apigateway").get_account().get("cloudwatchRoleArn") or ""
    if not arn:
        if creating:
            ctx.report.ok(
                f"API Gateway CloudWatch role: none yet; this stack sets one ({switch_now})"
            )
            return
        given = f"{ctx.params_file} sets {switch_now}" if switch else "the template cannot set one"
        ctx.report.refusals.append(
            f"{where} has no CloudWatch role (get-account: no "
            f"cloudwatchRoleArn) and {given}: {fails}.\nFix: {let_stack}"
            f"{set_role}"
        )
        return
    role = arn.rsplit("/", 1)[-1]
    iam = ctx.session.client("iam")
    try:
        iam.get_role(RoleName=role)
        exists = True
    except iam.exceptions.NoSuchEntityException:
        exists = False
    owned = any((ctx.live or {}).get(_role_of(ctx.names, a), ("", ""))[1] == role for a in accounts)
    if not exists and (not creating or owned):
        ctx.report.refusals.append(
            f"{where}'s CloudWatch role is {arn}, but IAM has no role {role} "
            f"any more: {fails}.\nFix: {'' if creating else let_stack}"
            f"{set_role}; or create {role} again as such a role."
        )
    elif not exists:
        ctx.report.ok(
            f"API Gateway CloudWatch role: {arn} no longer exists; this stack sets its "
            f"own ({switch_now})"
        )
    elif creating and not owned:
        ctx.report.warn(
            f"{where} already has a CloudWatch role ({arn}), and {ctx.params_file} sets "
            f"{switch_now}: this stack would replace that account-wide setting (every API "
            "in the region logs through it) with its own role, and keep it after the "
            "stack is deleted. That works; but if another stack owns the setting, set "
            f"{' and '.join(switch)} to false in {ctx.params_file}."
        )
    else:
        ctx.report.ok(f"API Gateway CloudWatch role: {arn} (exists)")


def _logs(stage: dict[str, Any]) -> bool:
    """True when the stage writes access logs or execution logs (both need the role)."""
    settings = [s for s in stage.get("MethodSettings", []) if isinstance(s, dict)]
    execution = any(
        text(s.get("LoggingLevel", "OFF")).upper() in ("ERROR", "INFO")
        or text(s.get("DataTraceEnabled", False)) == "true"
        for s in settings
    )
    return bool(stage.get("AccessLogSetting")) or execution


def _role_of(names: Names, account_id: str) -> str:
    """The logical ID of the role an AWS::ApiGateway::Account sets (its CloudWatchRoleArn)."""
    role = target(names.resources[account_id].get("Properties", {}).get("CloudWatchRoleArn"))
    return role.name if role else ""


def check_concurrency(ctx: Context) -> None:
    """The functions' reserved concurrency must leave the account MIN_UNRESERVED."""
    functions = ctx.names.created_of_type("AWS::Lambda::Function")
    nodes = {
        lid: ctx.names.resources[lid].get("Properties", {}).get("ReservedConcurrentExecutions")
        for lid in functions
    }
    asked = {
        lid: int(float(text(v)))
        for lid, v in ((lid, ctx.names.resolve(n)) for lid, n in nodes.items() if n is not None)
        if v is not NO_VALUE and v is not None
    }
    ask = sum(asked.values())
    knobs = parameters_read(ctx.names.template, list(nodes.values()))
    knobs_now = ", ".join(f"{k}={ctx.names.values.get(k, '')}" for k in knobs)
    if not ask:
        ctx.report.ok(f"Lambda concurrency: nothing reserved ({knobs_now or 'no reservation'})")
        return
    lam = ctx.session.client("lambda")
    limits = lam.get_account_settings()["AccountLimit"]
    limit, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    own = 0  # what this stack's live functions reserve now: the new ask replaces it
    for lid in functions:
        kind, physical = (ctx.live or {}).get(lid, ("", ""))
        if kind == "AWS::Lambda::Function":
            reserved = lam.get_function_concurrency(FunctionName=physical)
            own += int(reserved.get("ReservedConcurrentExecutions") or 0)
    others = limit - unreserved - own
    left = limit - others - ask
    values = sorted(set(asked.values()))
    how = (
        f"{len(asked)} functions x {values[0]}"
        if len(values) == 1
        else " + ".join(str(v) for v in asked.values())
    )
    counted = f"; the {own} its live functions reserve now counted once" if own else ""
    numbers = (
        f"account limit {limit} concurrent executions in {ctx.names.region}, other functions "
        f"reserve {others}, this stage reserves {how} = {ask} ({knobs_now}{counted}): "
        f"{limit} - {others} - {ask} = {left} stay unreserved"
    )
    if left >= MIN_UNRESERVED:
        ctx.report.ok(f"Lambda concurrency: {numbers} (at least {MIN_UNRESERVED})")
        return
    room = max(0, (limit - others - MIN_UNRESERVED) // len(asked))
    needed = others + ask + MIN_UNRESERVED
    lower = (
        f'set "{knobs[0]}" to at most {room} in {ctx.params_file} (0 = no reservation), or '
        if len(knobs) == 1
        else ""
    )
    ctx.report.refusals.append(
        f"Lambda concurrency: {numbers}, fewer than the {MIN_UNRESERVED} AWS keeps unreserved "
        f"({DOCS['concurrency']}): the first function to reserve would fail and the stack roll "
        f"back.\nFix: {lower}raise the account's limit to at least {needed}: aws service-quotas "
        f"request-service-quota-increase --service-code lambda --quota-code {LAMBDA_QUOTA_CODE} "
        f"--desired-value {needed} --region {ctx.names.region}"
    )


# Existence: how each Rule.check finds which of some names exist (read-only calls).


def _each(call: Callable[[Any, str], Any]) -> Callable[[Any, list[str]], set[str]]:
    """exists() from a per-name read that raises a NOT_FOUND error for a free name."""

    def exists(client: Any, wanted: list[str]) -> set[str]:
        found = set()
        for name in wanted:
            try:
                call(client, name)
            except _client_error() as error:
                if _code(error) in NOT_FOUND:
                    continue
                raise
            found.add(name)
        return found

    return exists


def _lambda(client: Any, name: str) -> Any:
    return client.get_function(FunctionName=name)


def _role(client: Any, name: str) -> Any:
    return client.get_role(RoleName=name)


def _queue(client: Any, name: str) -> Any:
    return client.get_queue_url(QueueName=name)


def _domain(client: Any, name: str) -> Any:
    return client.get_domain_name(domainName=name)


def _table(client: Any, name: str) -> Any:
    return client.describe_table(TableName=name)


def _bucket(client: Any, name: str) -> Any:
    try:
        return client.head_bucket(Bucket=name)
    except _client_error() as error:
        if _code(error) == "403":  # it exists, in another account: bucket names are global
            return None
        raise


def _application(client: Any, name: str) -> Any:
    return client.get_application(applicationName=name)


def _listed_by_prefix(
    operation: str, prefix: str, items: str, key: str
) -> Callable[[Any, list[str]], set[str]]:
    """Existence through a paginated listing filtered by name prefix, matched exactly."""

    def exists(client: Any, wanted: list[str]) -> set[str]:
        found = set()
        for name in wanted:
            pages = client.get_paginator(operation).paginate(**{prefix: name})
            if any(i[key] == name for page in pages for i in page[items]):
                found.add(name)
        return found

    return exists


def _alarms(client: Any, wanted: list[str]) -> set[str]:
    found = set()
    for i in range(0, len(wanted), 100):  # DescribeAlarms takes 100 names at a time
        pages = client.get_paginator("describe_alarms").paginate(
            AlarmNames=wanted[i : i + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for page in pages:
            found |= {
                a["AlarmName"]
                for key in ("MetricAlarms", "CompositeAlarms")
                for a in page.get(key, [])
            }
    return found & set(wanted)


def _topics(client: Any, wanted: list[str]) -> set[str]:
    pages = client.get_paginator("list_topics").paginate()
    return {t["TopicArn"].rsplit(":", 1)[-1] for page in pages for t in page["Topics"]} & set(
        wanted
    )


def _aliases(client: Any, wanted: list[str]) -> set[str]:
    pages = client.get_paginator("list_aliases").paginate()
    return {a["AliasName"] for page in pages for a in page["Aliases"]} & set(wanted)


NOT_FOUND = (
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchEntity",
    "404",
    "NoSuchBucket",
    "NotFound",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ApplicationDoesNotExistException",
    "NotFoundException",
)
# Rule.check -> (boto3 service, exists(client, names) -> the names that exist)
EXISTS: dict[str, tuple[str, Callable[[Any, list[str]], set[str]]]] = {
    "lambda": ("lambda", _each(_lambda)),
    "logs": (
        "logs",
        _listed_by_prefix("describe_log_groups", "logGroupNamePrefix", "logGroups", "logGroupName"),
    ),
    "alarm": ("cloudwatch", _alarms),
    "dashboard": (
        "cloudwatch",
        _listed_by_prefix(
            "list_dashboards", "DashboardNamePrefix", "DashboardEntries", "DashboardName"
        ),
    ),
    "role": ("iam", _each(_role)),
    "queue": ("sqs", _each(_queue)),
    "topic": ("sns", _topics),
    "table": ("dynamodb", _each(_table)),
    "bucket": ("s3", _each(_bucket)),
    "kms-alias": ("kms", _aliases),
    "codedeploy": ("codedeploy", _each(_application)),
    "domain": ("apigateway", _each(_domain)),
}


def _owned(name: Name, live: dict[str, tuple[str, str]] | None) -> bool:
    """The live stack holds this name (its physical ID, or the URL/ARN made of it)."""
    for kind, physical in (live or {}).values():
        if kind != name.resource_type:
            continue
        if physical == name.text:
            return True
        if name.rule.ref != "{name}" and re.split(r"[/:]", physical)[-1] == name.text:
            return True
    return False


def check_names(ctx: Context) -> None:
    """Fixed names that exist already, outside this stack."""
    wanted = [n for n in ctx.derived if n.fixed and n.rule.check and not _owned(n, ctx.live)]
    by_check: dict[str, list[Name]] = {}
    for n in wanted:
        by_check.setdefault(n.rule.check or "", []).append(n)
    taken: list[Name] = []
    for check, group in sorted(by_check.items()):
        service, exists = EXISTS[check]
        try:
            found = exists(ctx.session.client(service), [n.text for n in group])
        except _client_error() as error:
            ctx.report.warn(
                f"could not check {group[0].resource_type} names ({_code(error)}): not checked"
            )
            continue
        taken += [n for n in group if n.text in found]
    stack = ctx.names.stack_name
    if not taken:
        held = sum(1 for n in ctx.derived if n.fixed and n.rule.check and _owned(n, ctx.live))
        owned = f", {held} held by it" if held else ""
        ctx.report.ok(f"names: none of {len(wanted)} checked exists outside {stack}{owned}")
        return
    lines = [
        f"{len(taken)} names this stack would create already exist in {ctx.names.region}, "
        f'outside stack {stack}: CloudFormation would fail them with "already exists" '
        "and roll the whole stack back."
    ]
    for n in taken:
        fix = n.rule.delete.format(
            name=n.text, region=ctx.names.region, partition=ctx.names.partition
        )
        lines.append(f"  {n.resource_type} {n.logical_id}: {n.text}\n    delete: {fix}")
    purge = (
        f"; next time, `make destroy STAGE={ctx.stage} PURGE=1` deletes them with the stack"
        if ctx.stage != "prod"
        else ""
    )
    lines.append(
        f"Fix: delete each as shown, if it is a leftover (`make destroy` keeps {stack}'s log "
        f"groups, tables, bucket, queue and keys){purge}; or deploy under another STACK_NAME."
    )
    ctx.report.refusals.append("\n".join(lines))


def run(
    template: dict[str, Any],
    stack_name: str,
    region: str,
    values: dict[str, str],
    params_file: str,
    stage: str,
    out: Callable[[str], None] = print,
    session: Any = None,
) -> list[str]:
    """Every check, offline ones first; raises PreflightError with every refusal, else
    returns the warnings. `values`: the stage's parameter values (Defaults fill the rest)."""
    names = Names(template, stack_name, region, values)
    derived = derived_names(names)
    refusals = length_refusals(names, derived, params_file)
    if refusals:  # before any AWS call: the names decide nothing else
        raise PreflightError(refusals)
    out(f"preflight {stack_name} ({region}, {params_file}):")
    report = Report(out)
    report.ok(lengths_summary(derived))
    if session is None:
        import boto3  # only now: nothing above may need AWS

        session = boto3.Session(region_name=region)
    live = live_resources(session.client("cloudformation"), stack_name)
    ctx = Context(session, names, derived, live, params_file, stage, report)
    checks: list[tuple[str, Callable[[Context], None]]] = [
        ("API Gateway CloudWatch role", check_cloudwatch_role),
        ("Lambda concurrency", check_concurrency),
        ("names", check_names),
    ]
    for what, check in checks:
        try:
            check(ctx)
        except _client_error() as error:  # e.g. AccessDenied: say so, do not guess
            report.warn(f"{what}: not checked ({_code(error)}: {error})")
    if report.refusals:
        raise PreflightError(report.refusals)
    out(f"preflight: passed{f' with {len(report.warnings)} warnings' if report.warnings else ''}")
    return report.warnings
