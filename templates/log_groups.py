"""Explicit log groups, so retention is set and the groups outlive a deleted stack.

Lambda would create `/aws/lambda/<name>` itself on first write, with no retention and outside
the stack; creating it here first (the function Refs it) makes it ours."""

from dataclasses import dataclass

from troposphere import Parameter, Ref, Sub, Template, logs

from .catalog import FUNCTIONS
from .data import RETAIN
from .naming import logical_id, slug
from .parameters import Params


@dataclass(frozen=True)
class LogGroups:
    functions: dict[str, logs.LogGroup]  # function name -> its log group
    api_access: logs.LogGroup


def _log_group(t: Template, name: str, path: str, retention: Parameter) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            logical_id(name, "log", "group"),
            **RETAIN,
            LogGroupName=Sub(path),
            RetentionInDays=Ref(retention),
        )
    )


def add(t: Template, params: Params) -> LogGroups:
    return LogGroups(
        functions={
            f.name: _log_group(
                t,
                f.name,
                f"/aws/lambda/${{AWS::StackName}}-{slug(f.name)}",
                params.log_retention_days,
            )
            for f in FUNCTIONS
        },
        api_access=_log_group(
            t,
            "api_access",
            "/aws/apigateway/${AWS::StackName}/access",
            params.api_log_retention_days,
        ),
    )
