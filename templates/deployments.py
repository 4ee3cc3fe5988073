"""How new function code reaches traffic: per function a published Version, the alias `live`
that the API and the stream mapping invoke, and a CodeDeploy deployment group that shifts the
alias to a new version as DeploymentPreference says, rolling back when the function's error or
duration alarm fires (alarms exist only while AlarmsEnabled is true: the group names them then).

Every property of an AWS::Lambda::Version is create-only, so CloudFormation publishes a version
only when the Version resource is new or replaced, and Lambda refuses to publish a function that
did not change. So a Version must change exactly when the function does:
- its logical ID ends in a hash of the function's versioned properties as the template writes
  them (a template change: new logical ID, new version);
- its Description holds the values those properties take from outside the template text: every
  parameter they use (the content-addressed code key first: new code, new key) and the number
  of the layer version they name (a new layer zip replaces the layer). A new value changes the
  Description, which replaces the Version. Lambda allows 256 characters there: the values are
  joined by `|` (a character no such parameter allows), without labels."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from troposphere import (
    If,
    Join,
    NoValue,
    Ref,
    Select,
    Split,
    Sub,
    Template,
    awslambda,
    codedeploy,
    encode_to_dict,
    iam,
)
from troposphere.policies import CodeDeployLambdaAliasUpdate, UpdatePolicy

from .functions import Functions
from .monitoring import ALARMS_ON, Monitoring
from .naming import logical_id
from .parameters import Params
from .security import assumed_by

LIVE = "live"  # the alias every caller invokes (and the API's lambdaAlias stage variable)
# Function-level settings that a published version does not capture: a change to them alone
# leaves Lambda nothing new to publish.
NOT_VERSIONED = frozenset({"ReservedConcurrentExecutions", "Tags"})
# The function's alarms that stop a traffic shift and roll it back (templates/monitoring.py).
ROLLBACK_ALARMS = ("errors", "duration")
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
# AWS's managed policy for CodeDeploy's Lambda deployments: read the alarms, get and update the
# aliases, invoke hook functions named CodeDeployHook_*. Chosen over an inline policy because
# AWS keeps it in step with what CodeDeploy calls, and checkov and cfripper accept it as it is.
CODEDEPLOY_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
)
SEPARATOR = "|"  # between the Description's values; no parameter a function uses allows it
LAYER_VERSION_FIELD = 7  # arn:partition:lambda:region:account:layer:name:VERSION


@dataclass(frozen=True)
class Deployments:
    versions: dict[str, awslambda.Version]  # function name -> its published version
    aliases: dict[str, awslambda.Alias]  # function name -> its `live` alias, what callers invoke
    groups: dict[str, codedeploy.DeploymentGroup]  # function name -> its deployment group
    application: codedeploy.Application


def versioned_properties(fn: awslambda.Function) -> dict:
    """The function's properties as a published version captures them: not the function-level
    settings, nor the bucket of its code (the content-addressed key says what the code is)."""
    props = {k: v for k, v in fn.to_dict()["Properties"].items() if k not in NOT_VERSIONED}
    props["Code"] = {k: v for k, v in props["Code"].items() if k != "S3Bucket"}
    return props


def version_id(name: str, fn: awslambda.Function) -> str:
    """`<Name>Version<hash>` of the versioned properties' canonical JSON."""
    canonical = json.dumps(versioned_properties(fn), sort_keys=True, separators=(",", ":"))
    return logical_id(name, "version", hashlib.sha256(canonical.encode()).hexdigest()[:12])


Context = tuple[tuple[str, bool], ...]  # the Fn::If branches a value sits in: (condition, taken)


def _inputs(t: Template, node: object, context: Context = ()) -> Iterator[tuple[str, Context]]:
    """(name, context) for every parameter or resource `node` names (Ref, GetAtt, Sub) and the
    parameters of the conditions its Fn::If choose by, in order of appearance."""
    if isinstance(node, list):
        for item in node:
            yield from _inputs(t, item, context)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value, context
            elif key == "Fn::GetAtt":
                yield value[0], context
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                for name in _sub_names(text):
                    if name not in local:
                        yield name.split(".")[0], context
                yield from _inputs(t, local, context)
            elif key == "Fn::If":
                condition, taken, other = value
                yield from _inputs(t, encode_to_dict(t.conditions[condition]), context)
                yield from _inputs(t, taken, (*context, (condition, True)))
                yield from _inputs(t, other, (*context, (condition, False)))
            elif key == "Condition":  # a condition naming another
                yield from _inputs(t, encode_to_dict(t.conditions[value]), context)
            else:
                yield from _inputs(t, value, context)


def _sub_names(text: str) -> Iterator[str]:
    """The `${Name}` and `${Name.Attr}` variables of a Sub string (not `${!Literal}`)."""
    for part in text.split("${")[1:]:
        name = part.split("}")[0]
        if not name.startswith("!"):
            yield name


def description_inputs(t: Template, fn: awslambda.Function) -> dict[str, Context]:
    """The parameters and layer versions the function's versioned properties take values from,
    in order of appearance (the code key first), each with the Fn::If branches it is used in
    (none when it is used outside any, or in more than one place)."""
    props = versioned_properties(fn)
    found: dict[str, Context] = {}
    for name, context in [*_inputs(t, props.pop("Code")), *_inputs(t, props)]:
        if name in t.parameters or isinstance(t.resources.get(name), awslambda.LayerVersion):
            found[name] = context if found.get(name, context) == context else ()
    return found


def _value(t: Template, name: str, context: Context) -> tuple[str, object | None]:
    """The Description variable of one input: (variable name, value; None when Sub reads a
    parameter itself). A layer is its version number, a list its items joined by commas, and
    a value used under Fn::If is empty while its branch is not taken (so it changes only when
    the function does)."""
    if name in t.resources:
        variable, value = f"{name}Number", Select(LAYER_VERSION_FIELD, Split(":", Ref(name)))
    elif t.parameters[name].Type == "CommaDelimitedList":
        variable, value = f"{name}Joined", Join(",", Ref(name))
    else:
        variable, value = name, None
    if not context:
        return variable, value
    value = Ref(name) if value is None else value
    for condition, taken in reversed(context):
        value = If(condition, value, "") if taken else If(condition, "", value)
    return (variable if variable != name else f"{name}Used"), value


def version_description(t: Template, fn: awslambda.Function) -> Sub:
    """The values of `description_inputs`, joined by SEPARATOR."""
    variables = dict(_value(t, n, c) for n, c in description_inputs(t, fn).items())
    text = SEPARATOR.join(f"${{{v}}}" for v in variables)
    return Sub(text, **{k: v for k, v in variables.items() if v is not None})


def _group(
    t: Template,
    name: str,
    application: codedeploy.Application,
    role: iam.Role,
    params: Params,
    monitoring: Monitoring,
) -> codedeploy.DeploymentGroup:
    alarms = [monitoring.by_function[name][what] for what in ROLLBACK_ALARMS]
    return t.add_resource(
        codedeploy.DeploymentGroup(
            logical_id(name, "deployment", "group"),
            ApplicationName=Ref(application),
            ServiceRoleArn=role.get_att("Arn"),
            DeploymentConfigName=Sub(
                f"CodeDeployDefault.Lambda${{{params.deployment_preference.title}}}"
            ),
            DeploymentStyle=codedeploy.DeploymentStyle(
                DeploymentType="BLUE_GREEN", DeploymentOption="WITH_TRAFFIC_CONTROL"
            ),
            # The alarms exist only under AlarmsOn: without them, the group names none.
            AlarmConfiguration=If(
                ALARMS_ON,
                codedeploy.AlarmConfiguration(
                    Enabled=True, Alarms=[codedeploy.Alarm(Name=Ref(a)) for a in alarms]
                ),
                NoValue,
            ),
            AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(
                Enabled=True, Events=ROLLBACK_EVENTS
            ),
        )
    )


def add(t: Template, params: Params, functions: Functions, monitoring: Monitoring) -> Deployments:
    """Versions, the application and its role, the groups (after the alarms they name), then
    the aliases (after the groups their UpdatePolicy names): moto creates in document order."""
    versions = {
        name: t.add_resource(
            awslambda.Version(
                version_id(name, fn),
                FunctionName=Ref(fn),
                Description=version_description(t, fn),
            )
        )
        for name, fn in functions.by_name.items()
    }
    application = t.add_resource(
        codedeploy.Application(logical_id("functions", "deployment", "application"),
                               ComputePlatform="Lambda")
    )  # fmt: skip
    role = t.add_resource(
        iam.Role(
            logical_id("functions", "deployment", "role"),
            AssumeRolePolicyDocument=assumed_by("codedeploy"),
            ManagedPolicyArns=[Sub(CODEDEPLOY_POLICY)],
        )
    )
    groups = {
        name: _group(t, name, application, role, params, monitoring) for name in functions.by_name
    }
    aliases = {
        name: t.add_resource(
            awslambda.Alias(
                logical_id(name, LIVE, "alias"),
                Name=LIVE,
                FunctionName=Ref(fn),
                FunctionVersion=versions[name].get_att("Version"),
                Description="What API Gateway and event sources invoke; CodeDeploy moves it.",
                UpdatePolicy=UpdatePolicy(
                    CodeDeployLambdaAliasUpdate=CodeDeployLambdaAliasUpdate(
                        ApplicationName=Ref(application), DeploymentGroupName=Ref(groups[name])
                    )
                ),
            )
        )
        for name, fn in functions.by_name.items()
    }
    return Deployments(versions=versions, aliases=aliases, groups=groups, application=application)
