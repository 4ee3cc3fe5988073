"""What a template node reads through CloudFormation's intrinsics: Ref, Fn::GetAtt, Fn::Sub
(`${Name}`, `${Name.Attr}`, never `${!Literal}`), and the parameters of the conditions that
Fn::If and a resource's Condition choose by. The build's own checks use it (versions,
deployments); it reads troposphere's dict form of a node."""

from collections.abc import Iterable, Iterator

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


def parameters_read(t: Template, resources: Iterable[AWSObject]) -> list[str]:
    """The parameters that reach these resources' properties or conditions, sorted."""
    return sorted(
        {name for r in resources for name, _ in inputs(t, r.to_dict()) if name in t.parameters}
    )
