"""The framework of the template's parameters. Each concern module declares the ones it reads as
Param rows (its `PARAMETERS`) and Refs them through the rows; `add` puts them in the template.

Stage files (params/<stage>.json) set the values; the build adds the artifact keys and the
deploy adds the artifact bucket. Parameters without a Default must be given by one of them,
so a stage can never silently inherit another stage's value."""

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

from troposphere import And, Equals, Not, Parameter, Ref, Template

# Who supplies a parameter's value when it has no Default.
FROM_STAGE_FILE = "stage file"
FROM_BUILD = "build"
FROM_DEPLOY = "deploy"
BOOLEAN = ("false", "true")  # a switch's AllowedValues

# The parameters whose change replaces a stateful resource (the table's KeySchema is create-only):
# the documented allow-list. tests/templates/test_parameter_reach.py derives the real set from the
# template and CloudFormation's schemas and checks it equals this; `make plan` blocks on them.
REPLACING = frozenset({"PartitionKeyName", "SortKeyName"})
# Parameters whose edit would replace a stateful resource: the key names (the table) and the
# stage (API Gateway names its execution log group after it, templates/log_groups.py). The
# stack policy refuses those updates (tools/deploy/stack_policy.py).
REFUSED = REPLACING | {"Stage"}
# What a console edit (Update stack, current template, one value changed) does, appended to
# every parameter's Description by describe_edits.
EDIT_REFUSED = (
    "Console edit: refused (the stack policy denies replacing stored data; the update rolls "
    "back). To do it on purpose: make deploy ALLOW_REPLACE=1."
)
EDIT_REDEPLOYS = (
    "Console edit: takes effect in that stack update, which also deploys the API to the stage."
)
EDIT_AT_ONCE = "Console edit: takes effect in that stack update."

# The most items a list parameter may hold (Param.most). CloudFormation cannot count a list's
# items (neither a parameter constraint nor a Rules function does), so the counts live in the
# template's Metadata under this key, where the build's params check (stage_params) enforces
# them; a console value beyond them is recorded whole or refused (templates/deployments.py).
MAX_ITEMS_KEY = "ParameterMaxItems"


@dataclass(frozen=True)
class Param:
    """One parameter: its constraints, its place in the console, and who sets its value."""

    name: str
    _: KW_ONLY
    group: str  # the console's parameter group
    label: str  # the console's label
    description: str
    type: str = "String"
    default: str | int | None = None
    allowed: tuple[str | int, ...] = ()  # AllowedValues
    pattern: str | None = None  # AllowedPattern (of each item, for a list)
    low: int | None = None  # MinValue
    high: int | None = None  # MaxValue
    constraint: str | None = None  # ConstraintDescription
    most: int | None = None  # a list's most items (MAX_ITEMS_KEY)
    supplier: str = FROM_STAGE_FILE

    def ref(self) -> Ref:
        return Ref(self.name)

    def properties(self) -> dict:
        """The Parameter's properties, in the order the template has always had them: the
        Default of a patterned parameter after its Type, any other's last."""
        limits = {
            "AllowedValues": list(self.allowed) or None,
            "AllowedPattern": self.pattern,
            "MinValue": self.low,
            "MaxValue": self.high,
            "ConstraintDescription": self.constraint,
        }
        default = {} if self.default is None else {"Default": self.default}
        early, late = (default, {}) if self.pattern else ({}, default)
        given = {k: v for k, v in limits.items() if v is not None}
        return {"Type": self.type, **early, "Description": self.description, **given, **late}


def number(name: str, *, low: int, high: int, unit: str, **row: str | int) -> Param:
    """A whole number from `low` to `high` `unit`; `row`: the other fields."""
    constraint = f"must be a whole number of {unit} from {low} to {high}."
    return Param(name, type="Number", low=low, high=high, constraint=constraint, **row)


def choice(name: str, *, allowed: tuple[str, ...] | tuple[int, ...], **row: str | int) -> Param:
    """One of `allowed` (a Number when they are numbers); `row`: the other fields."""
    kind = "String" if isinstance(allowed[0], str) else "Number"
    constraint = "must be one of: " + ", ".join(str(v) for v in allowed) + "."
    return Param(name, type=kind, allowed=tuple(allowed), constraint=constraint, **row)


def grouped(groups: Sequence[str], *declared: tuple[Param, ...]) -> tuple[Param, ...]:
    """The modules' rows by console group, in `groups` order; in a group, as declared."""
    rows = [row for module in declared for row in module]
    names = [row.name for row in rows]
    twice = sorted({n for n in names if names.count(n) > 1})
    unknown = sorted({row.group for row in rows} - set(groups))
    if twice or unknown:
        raise ValueError(f"parameters declared twice: {twice}; groups not in GROUPS: {unknown}")
    return tuple(sorted(rows, key=lambda row: groups.index(row.group)))


def supplier(name: str) -> str | None:
    """Who sets parameter `name`: a stage file, the build or the deploy (None: not ours)."""
    from . import PARAMETERS  # the package collects every module's rows (they import this one)

    return next((p.supplier for p in PARAMETERS if p.name == name), None)


def add(t: Template, rows: tuple[Param, ...]) -> None:
    """Add the parameters, their console grouping and the lists' item counts."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        t.add_parameter(Parameter(row.name, **row.properties()))
        groups.setdefault(row.group, []).append(row.name)
    interface = {
        "ParameterGroups": [{"Label": {"default": g}, "Parameters": n} for g, n in groups.items()],
        "ParameterLabels": {row.name: {"default": row.label} for row in rows},
    }
    most = {row.name: row.most for row in rows if row.most is not None}
    t.set_metadata({"AWS::CloudFormation::Interface": interface, MAX_ITEMS_KEY: most})


def describe_edits(t: Template, redeploying: set[str]) -> None:
    """End every parameter's Description with what a console edit of it does; `redeploying`
    are the parameters the API's deployment carries (templates/api_deployment.py)."""
    for name, parameter in t.parameters.items():
        if name in REFUSED:
            effect = EDIT_REFUSED
        elif name in redeploying:
            effect = EDIT_REDEPLOYS
        else:
            effect = EDIT_AT_ONCE
        parameter.Description = f"{parameter.Description} {effect}"


def assertion(t: Template, name: str, holds: object, why: str) -> None:
    """A Rules assertion, checked by CloudFormation on every create and update (console edits
    too) and, with the same verdict, by the build's params check (stage_params.broken_rules)."""
    t.add_rule(name, {"Assertions": [{"Assert": holds.to_dict(), "AssertDescription": why}]})


def refuse(t: Template, name: str, *together: tuple[Param, str], why: str) -> None:
    """An assertion: these parameter values may not all hold at once."""
    assertion(t, name, Not(And(*(Equals(p.ref(), v) for p, v in together))), why)
