"""Explicit log groups, so retention and encryption are set and the groups outlive a deleted
stack.

A function's group is named after the function (`/aws/lambda/${Function}`), so it is created
right after it, before anything invokes it: Lambda would otherwise create the group itself on
first write, with no retention, no key and outside the stack. Nothing in the stack runs a
function while the stack is being created."""

from dataclasses import dataclass

from troposphere import Parameter, Ref, Sub, Template, kms, logs

from .catalog import FUNCTIONS
from .data import RETAIN
from .functions import Functions
from .naming import logical_id
from .parameters import Params


@dataclass(frozen=True)
class LogGroups:
    functions: dict[str, logs.LogGroup]  # function name -> its log group
    api_access: logs.LogGroup


def _log_group(
    t: Template, name: str, path: Sub, retention: Parameter, key: kms.Key
) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            logical_id(name, "log", "group"),
            **RETAIN,
            LogGroupName=path,
            RetentionInDays=Ref(retention),
            KmsKeyId=key.get_att("Arn"),
        )
    )


def add(t: Template, params: Params, functions: Functions, key: kms.Key) -> LogGroups:
    return LogGroups(
        functions={
            f.name: _log_group(
                t,
                f.name,
                Sub(f"/aws/lambda/${{{functions.by_name[f.name].title}}}"),
                params.log_retention_days,
                key,
            )
            for f in FUNCTIONS
        },
        api_access=_log_group(
            t,
            "api_access",
            Sub("/aws/apigateway/${AWS::StackName}/access"),
            params.api_log_retention_days,
            key,
        ),
    )
