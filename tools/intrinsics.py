"""CloudFormation's intrinsics: the one place that knows their syntax, read two ways.

- What a template node names (`references`, `named`, `target`, `conditions_named`) and what
  it reads (`inputs`, `parameters_read`: Ref, Fn::GetAtt, Fn::Sub's `${Name}` and
  `${Name.Attr}` but never `${!Literal}`, and the parameters of the conditions its Fn::If and
  Condition choose by). The build's checks (templates/deployments.py, api_deployment.py,
  monitoring.py), the diagram, the deploy's preflight, the local emulator, moto_compat and the
  tests read references through them; Fn::Sub's own syntax is `sub_args`, `sub_names`,
  `substitute` and `sub_text`.
- What a node evaluates to (`Evaluator`): Ref to parameters, pseudo parameters and (through
  the caller's `resources`) resources, Fn::GetAtt, Fn::Sub, Fn::If over the Conditions,
  Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, AWS::NoValue, and the Rules' assertions.
  The emulator, the preflight (its names), the stage files' Rules check and the tests evaluate
  through it, each passing what it knows of the resources. `Resolver` is one that keeps what
  needs AWS as written (the tests and the benchmarks read the deployed template through it).

A template is CloudFormation's dict form; `inputs` and `parameters_read` also take a troposphere
Template (the build's checks run before the template is rendered)."""

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple, NoReturn

from troposphere import Template, encode_to_dict

Context = tuple[tuple[str, bool], ...]  # the Fn::If branches a value sits in: (condition, taken)
# A resource's value: `Ref name` (attribute None) or `Fn::GetAtt [name, attribute]`.
ResourceValues = Callable[[str, str | None], Any]

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")  # ${Name}, ${Name.Attr}, ${!Literal}
CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or")
ACCOUNT = "123456789012"  # a placeholder account ID: 12 digits, as long as every real one


def pseudo_parameters(
    region: str = "us-east-1",
    account: str = ACCOUNT,
    stack_name: str = "items-api-local",
    stack_uuid: str = "00000000-0000-0000-0000-000000000000",
) -> dict[str, Any]:
    """The pseudo parameters of a stack in this region (its partition and URL suffix follow)."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    partition = "aws-us-gov" if region.startswith("us-gov-") else partition
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return {
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::Region": region,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/"
        f"{stack_name}/{stack_uuid}",
        "AWS::URLSuffix": suffix,
        "AWS::NotificationARNs": [],
    }


PSEUDO_PARAMETERS = pseudo_parameters()  # the one set of defaults (the local stack's)


def is_pseudo(name: str) -> bool:
    """AWS::Region, AWS::NoValue, ...: a pseudo parameter, never a resource or a parameter."""
    return name.startswith("AWS::")


# --- what a node names -----------------------------------------------------------------------


class Reference(NamedTuple):
    """A name a node uses: a resource, parameter or pseudo parameter; with an attribute for
    Fn::GetAtt and `${Name.Attr}`."""

    name: str
    attribute: str | None = None


def _dotted(name: str) -> Reference:
    """`Name.Attr` (Fn::GetAtt's string form, a Sub variable) or `Name`."""
    resource, _, attribute = name.partition(".")
    return Reference(resource, attribute or None)


def sub_args(args: Any) -> tuple[str, Mapping[str, Any]]:
    """Fn::Sub's text and its own variables: `text` or `[text, {name: value}]`."""
    return (args, {}) if isinstance(args, str) else (args[0], args[1] if len(args) > 1 else {})


def sub_names(text: str) -> Iterator[str]:
    """The `${Name}` and `${Name.Attr}` variables of a Sub string (not `${!Literal}`)."""
    for name in SUB_VARIABLE.findall(text):
        if not name.startswith("!"):
            yield name


def sub_text(node: Any) -> str:
    """The text of a Fn::Sub node of the string form (troposphere's Sub too), to be written
    into another Sub."""
    args = encode_to_dict(node)["Fn::Sub"]
    if not isinstance(args, str):
        raise ValueError(f"{args!r}: a Sub with its own variables is more than its text")
    return args


def substitute(text: str, value: Callable[[str], str]) -> str:
    """The Sub string with each variable replaced by `value(name)`, `${!Literal}` by
    `${Literal}`."""

    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        return "${" + name[1:] + "}" if name.startswith("!") else value(name)

    return SUB_VARIABLE.sub(one, text)


def target(node: Any) -> Reference | None:
    """The resource or parameter a node is a Ref or Fn::GetAtt of; None for any other node."""
    if isinstance(node, dict) and len(node) == 1:
        ((fn, args),) = node.items()
        if fn == "Ref" and isinstance(args, str):
            return Reference(args)
        if fn == "Fn::GetAtt":
            return _dotted(args) if isinstance(args, str) else Reference(args[0], args[1])
    return None


def _walk(
    node: Any, conditions: Mapping[str, Any] | None, context: Context
) -> Iterator[tuple[Reference, Context]]:
    """Every reference in `node`, in order of appearance, with the Fn::If branches it is in;
    with `conditions`, also those of the conditions its Fn::If and Condition choose by."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, conditions, context)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            yield Reference(value), context
        elif key == "Fn::GetAtt":
            if isinstance(value, str):
                yield _dotted(value), context
            else:  # the attribute's name may itself be a Ref
                attribute = value[1] if isinstance(value[1], str) else None
                yield Reference(value[0], attribute), context
                yield from _walk(value[1:], conditions, context)
        elif key == "Fn::Sub":
            text, local = sub_args(value)
            for name in sub_names(text):
                if name not in local:  # the map's own variables shadow the template's names
                    yield _dotted(name), context
            yield from _walk(list(local.values()), conditions, context)
        elif key == "Fn::If":
            condition, taken, other = value
            if conditions is not None:
                yield from _walk(conditions[condition], conditions, context)
            yield from _walk(taken, conditions, (*context, (condition, True)))
            yield from _walk(other, conditions, (*context, (condition, False)))
        elif key == "Condition" and isinstance(value, str):  # a resource's, or one named
            if conditions is not None:
                yield from _walk(conditions[value], conditions, context)
        else:
            yield from _walk(value, conditions, context)


def references(node: Any) -> Iterator[Reference]:
    """Every Ref, Fn::GetAtt and Sub variable in `node`, in every Fn::If branch, pseudo
    parameters included, in order of appearance (not what its conditions read)."""
    return (reference for reference, _ in _walk(node, None, ()))


def named(node: Any) -> Iterator[str]:
    """The resources and parameters `node` references (pseudo parameters are neither)."""
    return (r.name for r in references(node) if not is_pseudo(r.name))


def conditions_named(node: Any) -> Iterator[str]:
    """The conditions `node`'s Fn::If and Condition keys name (not those these name)."""
    if isinstance(node, list):
        for item in node:
            yield from conditions_named(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                yield value
            elif key == "Fn::If":
                yield value[0]
                yield from conditions_named(value[1:])
            else:
                yield from conditions_named(value)


def _declared(template: Template | Mapping[str, Any]) -> tuple[Collection[str], dict[str, Any]]:
    """A template's parameter names and its Conditions in dict form."""
    if isinstance(template, Template):
        return template.parameters, encode_to_dict(template.conditions)
    return template.get("Parameters", {}), template.get("Conditions", {})


def inputs(
    template: Template | Mapping[str, Any], node: Any, context: Context = ()
) -> Iterator[tuple[str, Context]]:
    """(name, context) for every resource, parameter or pseudo parameter `node` names (Ref,
    GetAtt, Sub) and the parameters of the conditions its Fn::If and Condition choose by, in
    order of appearance. `node` may hold troposphere objects."""
    _, conditions = _declared(template)
    for reference, where in _walk(encode_to_dict(node), conditions, context):
        yield reference.name, where


def parameters_read(template: Template | Mapping[str, Any], node: Any) -> list[str]:
    """The parameters that reach `node`'s values or conditions, sorted."""
    parameters, _ = _declared(template)
    return sorted({name for name, _ in inputs(template, node) if name in parameters})


# --- evaluation ------------------------------------------------------------------------------


class Unresolvable(ValueError):
    """A node this evaluation cannot give a value for: a resource's Ref or attribute without
    `resources`, an unknown parameter or condition, a function it does not evaluate, or
    malformed arguments."""


class _NoValue:
    """AWS::NoValue: the map key or list item whose value this is does not exist."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def text(value: Any) -> str:
    """A value as CloudFormation passes it on: a boolean lower-case, a list comma-joined."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(text(v) for v in value)
    if isinstance(value, dict):
        raise Unresolvable(f"{value!r}: not a value")
    return str(value)


def parameter_values(
    template: Mapping[str, Any],
    given: Mapping[str, Any] | None = None,
    pseudo: Mapping[str, Any] = PSEUDO_PARAMETERS,
) -> dict[str, Any]:
    """Every parameter's value as text: the given one, else the template's Default; plus the
    pseudo parameters (given `AWS::...` values override them)."""
    defaults = {
        name: text(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    return {**pseudo, **defaults, **{k: text(v) for k, v in (given or {}).items()}}


class Evaluator:
    """Evaluates a template's nodes as CloudFormation would for these values:

    - `Ref` to a parameter or pseudo parameter (its value in `values`; a CommaDelimitedList or
      `List<...>` parameter is a list), `Ref AWS::NoValue`; a resource's Ref or `Fn::GetAtt`
      (list or dotted form) is what `resources(name, attribute)` answers;
    - `Fn::If` over the template's Conditions, which may use `Fn::Equals` (compared as text),
      `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition` (another condition, in any order);
    - `Fn::Sub` (`${Name}`, `${Name.Attr}`, `${!Literal}`, its own variables), `Fn::Join`,
      `Fn::Select`, `Fn::Split`, `Fn::FindInMap`;
    - AWS::NoValue: a map key whose value evaluates to it is removed, and so is a list item;
    - the Rules: `failed_assertions`.

    `values` holds every parameter's value as text (see `parameter_values`) and the pseudo
    parameters the caller wants resolved. What it cannot evaluate goes to `unresolved`, which
    raises Unresolvable; a subclass may give a value instead."""

    def __init__(
        self,
        template: Mapping[str, Any],
        values: Mapping[str, Any],
        resources: ResourceValues | None = None,
    ) -> None:
        self.template = template
        self.values = dict(values)
        self._resources = resources
        self.conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    def condition(self, name: str) -> bool:
        """The named condition's value (each condition evaluated once)."""
        if name not in self.conditions:
            declared = self.template.get("Conditions", {})
            if name not in declared:
                raise Unresolvable(f"condition {name}: not in the template's Conditions")
            if name in self._evaluating:
                raise Unresolvable(f"condition {name}: names itself")
            self._evaluating.add(name)
            try:
                self.conditions[name] = self.truth(declared[name])
            finally:
                self._evaluating.discard(name)
        return self.conditions[name]

    def truth(self, node: Any) -> bool:
        """A condition function's value (in Conditions, a RuleCondition or an Assert)."""
        if isinstance(node, bool):
            return node
        if not (isinstance(node, dict) and len(node) == 1):
            raise Unresolvable(f"{node!r}: not a condition function")
        ((fn, args),) = node.items()
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::Equals":
            left, right = (text(self.resolve(a)) for a in args)
            return left == right
        if fn == "Fn::Not":
            [inner] = args
            return not self.truth(inner)
        if fn == "Fn::And":
            return all(self.truth(a) for a in args)
        if fn == "Fn::Or":
            return any(self.truth(a) for a in args)
        raise Unresolvable(f"{fn}: not a condition function")

    def created(self, logical_id: str) -> bool:
        """False when the resource's Condition is false for these values."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resource(self, logical_id: str) -> dict[str, Any] | None:
        """The resource as these values create it, or None when its Condition is false."""
        if not self.created(logical_id):
            return None
        return self.resolve(self.template["Resources"][logical_id])

    def failed_assertions(self) -> Iterator[tuple[str, str]]:
        """(rule, AssertDescription) of each Rules assertion these values break; a rule whose
        RuleCondition is false asserts nothing."""
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.truth(assertion["Assert"]):
                    yield name, assertion.get("AssertDescription", "")

    def resolve(self, node: Any) -> Any:
        """The node's value; NO_VALUE when the node itself is AWS::NoValue."""
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, args),) = node.items()
            if fn == "Ref" or fn == "Condition" or fn.startswith("Fn::"):
                try:
                    return self.function(fn, args)
                except (LookupError, TypeError, ValueError) as error:
                    why = error if isinstance(error, Unresolvable) else f"{fn}: {error!r}"
                    return self.unresolved(node, Unresolvable(why))
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def unresolved(self, node: dict[str, Any], error: Unresolvable) -> Any:
        """What a function node that cannot be evaluated gives: here, the error."""
        raise error

    def function(self, fn: str, args: Any) -> Any:
        """One intrinsic function's value."""
        if fn == "Ref":
            return self.ref(args)
        if fn == "Fn::GetAtt":
            name, attribute = _dotted(args) if isinstance(args, str) else args
            return self.resource_value(name, text(self.resolve(attribute)))
        if fn == "Fn::If":
            name, taken, other = args
            return self.resolve(taken if self.condition(name) else other)
        if fn == "Fn::Sub":
            return self.sub(args)
        if fn == "Fn::Join":
            separator, items = args
            return separator.join(text(i) for i in self._list(items))
        if fn == "Fn::Select":
            index, items = args
            return self._list(items)[int(text(self.resolve(index)))]
        if fn == "Fn::Split":
            separator, source = args
            return text(self.resolve(source)).split(separator)
        if fn == "Fn::FindInMap":
            mapping, key, name = (text(self.resolve(a)) for a in args)
            return self.template["Mappings"][mapping][key][name]
        where = "only in Conditions" if fn in CONDITION_FUNCTIONS else "not evaluated"
        raise Unresolvable(f"{fn}: {where}")

    def _list(self, node: Any) -> list[Any]:
        items = self.resolve(node)
        if not isinstance(items, list):
            raise Unresolvable(f"{node!r}: not a list")
        return items

    def ref(self, name: str) -> Any:
        """A Ref's value: AWS::NoValue, a parameter's or pseudo parameter's, else a resource's."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.values:
            return self.resource_value(name, None)
        value = self.values[name]
        kind = self.template.get("Parameters", {}).get(name, {}).get("Type", "")
        if isinstance(value, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            return value.split(",") if value else []
        return value

    def resource_value(self, name: str, attribute: str | None) -> Any:
        """A resource's Ref (attribute None) or attribute: what `resources` answers."""
        if self._resources is None:
            _unknown(name, attribute)
        return self._resources(name, attribute)

    def sub(self, args: Any) -> str:
        """Fn::Sub's text with its variables' values; a variable whose value stays a node (see
        `unresolved`) stays `${Name}`."""
        body, local = sub_args(args)
        scope = {k: text(self.resolve(v)) for k, v in local.items()}

        def value(name: str) -> str:
            if name in scope:
                return scope[name]
            resource, attribute = _dotted(name)
            node = {"Ref": name} if attribute is None else {"Fn::GetAtt": [resource, attribute]}
            found = self.resolve(node)
            return "${" + name + "}" if isinstance(found, dict) else text(found)

        return substitute(body, value)


class Resolver(Evaluator):
    """The template as CloudFormation deploys it for these parameter values (Defaults for the
    rest): what needs AWS (a resource's Ref or attribute without `resources`, a pseudo
    parameter not given) stays as written, a Sub variable as `${Name}`."""

    def __init__(
        self, template: dict, values: dict[str, str], resources: ResourceValues | None = None
    ) -> None:
        super().__init__(template, parameter_values(template, values, pseudo={}), resources)

    def unresolved(self, node: dict[str, Any], error: Unresolvable) -> Any:
        ((fn, args),) = node.items()
        return {fn: self.resolve(args)}


def _unknown(name: str, attribute: str | None) -> NoReturn:
    if attribute is None:
        raise Unresolvable(f"Ref {name}: not a parameter with a value, nor a resource known")
    raise Unresolvable(f"Fn::GetAtt {name}.{attribute}: no resource values given")
