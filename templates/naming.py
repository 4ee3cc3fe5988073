"""The one place logical IDs and physical names are made, so renames cannot drift apart."""

import re

from troposphere import Sub

_WORD = re.compile(r"[A-Za-z0-9]+")


def logical_id(*parts: str) -> str:
    """CamelCase the parts: CloudFormation logical IDs allow only [A-Za-z0-9]."""
    return "".join(w[:1].upper() + w[1:] for p in parts for w in _WORD.findall(p))


def slug(name: str) -> str:
    """kebab-case, for physical names (`get_item` -> `get-item`)."""
    return "-".join(w.lower() for w in _WORD.findall(name.replace("_", " ")))


def physical_name(name: str) -> Sub:
    """`<stack name>-<slug>`: one stack per stage, so the stack name already says the stage."""
    return Sub(f"${{AWS::StackName}}-{slug(name)}")
