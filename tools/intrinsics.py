"""CloudFormation's intrinsics, read two ways.

- What a template node reads (`inputs`, `parameters_read`): Ref, Fn::GetAtt, Fn::Sub
  (`${Name}`, `${Name.Attr}`, never `${!Literal}`), and the parameters of the conditions that
  Fn::If and a resource's Condition choose by. The build's own checks use it (versions,
  deployments); it reads troposphere's dict form of a node.
- What a node evaluates to for given parameter values (`Evaluator`): Ref to parameters and
  pseudo parameters, Fn::If over the Conditions (Fn::Equals, Not, And, Or), Fn::Sub, Fn::Join,
  and AWS::NoValue removed from maps and lists. The local API (tools.local.routes) reads the
  template's routes, preflights and gateway responses through it."""

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from troposphere import AWSObject, Template, encode_to_dict

Context = tuple[tuple[str, bool], ...]  # the Fn::If branches a value sits in: (condition, taken)


def inputs(t: Template, node: object, context: Context = ()) -> Iterator[tuple[str, Context]]:
    """(name, context) for every parameter or resource `node` names (Ref, GetAtt, Sub) and the
    parameters of the conditions its Fn::If choose by, in order of appearance."""
    if isinstance(node, list):
        for item in node:
            yield from inputs(t, item, context)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value, context
            elif key == "Fn::GetAtt":
                yield value[0], context
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                for name in sub_names(text):
                    if name not in local:
                        yield name.split(".")[0], context
                yield from inputs(t, local, context)
            elif key == "Fn::If":
                condition, taken, other = value
                yield from inputs(t, encode_to_dict(t.conditions[condition]), context)
                yield from inputs(t, taken, (*context, (condition, True)))
                yield from inputs(t, other, (*context, (condition, False)))
            elif key == "Condition":  # a resource's condition, or a condition naming another
                yield from inputs(t, encode_to_dict(t.conditions[value]), context)
            else:
                yield from inputs(t, value, context)


def sub_names(text: str) -> Iterator[str]:
    """The `${Name}` and `${Name.Attr}` variables of a Sub string (not `${!Literal}`)."""
    for part in text.split("${")[1:]:
        name = part.split("}")[0]
        if not name.startswith("!"):
            yield name


def parameters_read(t: Template, resources: Iterable[AWSObject | dict]) -> list[str]:
    """The parameters that reach these resources' properties or conditions (resources, or
    their dict form), sorted."""
    nodes = [r if isinstance(r, dict) else r.to_dict() for r in resources]
    return sorted({name for node in nodes for name, _ in inputs(t, node) if name in t.parameters})


# --- evaluation ------------------------------------------------------------------------------
# What CloudFormation makes of a node for given parameter values, where parameter values are
# all it takes. tools.local reads the routes, preflights and gateway responses through it.


class Unresolvable(ValueError):
    """A node that needs more than parameter values: a resource's Ref or attribute, an unknown
    parameter or condition, or a function this evaluator does not know."""


class _NoValue:
    """AWS::NoValue: the map key or list item whose value this is does not exist."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or")


def text(value: Any) -> str:
    """A value as CloudFormation passes it on: a boolean lower-case, a list comma-joined."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(text(v) for v in value)
    return str(value)


class Evaluator:
    """Evaluates a template's nodes for parameter values, as CloudFormation would:

    - `Ref` to a parameter or pseudo parameter (its value in `values`; a CommaDelimitedList or
      `List<...>` parameter is a list), `Ref AWS::NoValue`;
    - `Fn::If` over the template's Conditions, which may use `Fn::Equals` (compared as text),
      `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition` (another condition, in any order);
    - `Fn::Sub` (`${Name}`, `${!Literal}`, its own variables) and `Fn::Join` of such values;
    - AWS::NoValue: a map key whose value evaluates to it is removed, and so is a list item.

    Anything else that needs AWS (a resource's Ref or Fn::GetAtt, Fn::ImportValue, ...) raises
    Unresolvable. `values` holds every parameter's value as text (defaults included) and the
    pseudo parameters the caller wants to resolve."""

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self.template = template
        self.values = dict(values)
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
        """A condition function's value."""
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

    def resolve(self, node: Any) -> Any:
        """The node's value; NO_VALUE when the node itself is AWS::NoValue."""
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, args),) = node.items()
            if fn == "Ref":
                return self.ref(args)
            if fn == "Fn::If":
                name, taken, other = args
                return self.resolve(taken if self.condition(name) else other)
            if fn == "Fn::Sub":
                return self.sub(args)
            if fn == "Fn::Join":
                separator, items = args
                resolved = self.resolve(items)
                if not isinstance(resolved, list):
                    raise Unresolvable(f"Fn::Join of {items!r}: not a list")
                return separator.join(text(i) for i in resolved)
            if fn.startswith("Fn::") or fn == "Condition":
                where = "only in Conditions" if fn in CONDITION_FUNCTIONS else "not evaluated"
                raise Unresolvable(f"{fn}: {where}")
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.values:
            raise Unresolvable(f"Ref {name}: not a parameter with a value")
        value = self.values[name]
        kind = self.template.get("Parameters", {}).get(name, {}).get("Type", "")
        if isinstance(value, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            return value.split(",") if value else []
        return value

    def sub(self, args: Any) -> str:
        body, local = (args, {}) if isinstance(args, str) else args
        scope = {k: text(self.resolve(v)) for k, v in local.items()}

        def one(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in scope:
                return scope[name]
            return text(self.ref(name))

        return re.sub(r"\$\{([^}]*)\}", one, body)
