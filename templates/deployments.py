"""How new function code reaches traffic: per function a published Version, the alias `live`
that the API and the stream mapping invoke, the function's asynchronous-invocation settings on
that alias, and a CodeDeploy deployment group that shifts the alias to a new version as
DeploymentPreference says, rolling back when that version's own errors or duration alarm fires
(alarms exist only while AlarmsEnabled is true: the group names them then).

Every property of an AWS::Lambda::Version is create-only, so CloudFormation publishes a version
only when the Version resource is new or replaced, and Lambda refuses to publish a function that
did not change. So a Version must change exactly when the function does:
- its logical ID ends in a hash of the function's versioned properties as the template writes
  them (a template change: new logical ID, new version);
- its Description changes with every value those properties take from outside the template
  text (a new value replaces the Version).

Lambda allows 256 characters in a Version's Description (and in a LayerVersion's). The values
themselves do not fit: the code's sha256 is 64 characters, a layer version up to 19 digits (a
Long), three subnets and two security groups 115, before the table's key names (255 each), the
origin, the route prefix and the project. Weighed and not chosen: bounding every value until
their sum fits (it would refuse ordinary stages: three subnets and two security groups with the
fixed-width values and the layer already pass 256, before any prefix, origin or project), and
leaving out stack-wide values (none of them changes anything the Description already holds,
so a change would publish nothing). So the Description records each value by the shortest thing
that changes whenever it does; tests/templates/test_aws_rules.py computes the longest
Description any allowed values give from the parameters' own constraints (174 characters for a
Version, 247 for the settings record) and checks that a new value changes it exactly when it
changes the function: - the code key: only its sha256. The key's pattern is exactly the build's
  name, `artifacts/<name>-<sha256>.zip` (under `<project>/dist/` for taskcat), so the part after
  `artifacts/<name>-` is the one thing that differs between keys, and a zip's sha256 is its
  content: what the code is, wherever it lies;
- a layer (the shared one): its version number, new whenever the layer is replaced;
- a parameter that replaces a table (REPLACING: the key names): the table's stream label,
  the part of its StreamArn after `/stream/`, a 23-character time that a new table's new
  stream never repeats. The functions name the table, so they change with it;
- a parameter of fixed width (AllowedValues, or a Number up to its MaxValue): itself;
- free text and lists (String patterns, CommaDelimitedList): in the Description of one
  LayerVersion, the functions' settings record (`<stack>-settings`), whose version number is
  in every Version's Description. Every property of a LayerVersion is create-only, so a new
  value replaces it, publishing the next version number, which replaces every Version. Its
  content is the shared layer's zip: a new zip replaces every function's layer anyway. No
  function attaches it. These values are bounded (patterns; list counts in the template's
  Metadata, enforced by the build's params check) so that the record fits 256 too.
A console value beyond a bound (a fourth subnet) is never silently ignored: it is in the record
whole, so it changes it, or the record passes 256 characters and Lambda refuses it, failing the
update, which rolls back. Values are joined by `|`, which no such value can contain, so two
different sets of values never give the same text; a value used only under an Fn::If branch
counts only while the branch is taken. A change of this format alone changes every Description
while no function changes, and Lambda would refuse to publish them: ship it with a change to
every function (or expect that deploy to fail and roll back)."""

import hashlib
import json
from dataclasses import dataclass

from troposphere import (
    If,
    Join,
    Ref,
    Select,
    Split,
    Sub,
    Template,
    awslambda,
    cloudwatch,
    codedeploy,
    dynamodb,
    iam,
)
from troposphere.policies import CodeDeployLambdaAliasUpdate, UpdatePolicy

from tools.intrinsics import Context, Reference, inputs, references

from .catalog import ARTIFACTS, FUNCTIONS, LAYER
from .functions import Functions, code, code_key_parameter, code_key_stem
from .monitoring import ALARMS_ON, Monitoring, add_alarms, version_alarms
from .naming import logical_id, physical_name
from .parameters import REPLACING, choice
from .security import assumed_by

LIVE = "live"  # the alias every caller invokes (and the API's lambdaAlias stage variable)
# Function-level settings that a published version does not capture: a change to them alone
# leaves Lambda nothing new to publish.
NOT_VERSIONED = frozenset({"ReservedConcurrentExecutions", "RecursiveLoop", "Tags"})
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
# AWS's managed policy for CodeDeploy's Lambda deployments: read the alarms, get and update the
# aliases, invoke hook functions named CodeDeployHook_*. Chosen over an inline policy because
# AWS keeps it in step with what CodeDeploy calls, and checkov and cfripper accept it as it is.
CODEDEPLOY_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
)
SEPARATOR = "|"  # between the Description's values; no parameter a function uses allows it
LAYER_VERSION_FIELD = 7  # arn:partition:lambda:region:account:layer:name:VERSION
STREAM_MARK = "/stream/"  # arn:...:table/<name>/stream/<label>: the label follows it, once
# CodeDeploy's predefined Lambda configurations, CodeDeployDefault.Lambda<preference>.
DEPLOYMENT_PREFERENCES = ("AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute")

ASYNC_RETRY_ATTEMPTS = choice(
    "AsyncRetryAttempts",
    group="Functions",
    label="Async retry attempts",
    description="Retries Lambda makes for an asynchronous invocation that fails (0-2).",
    allowed=(0, 1, 2),
    default=2,
)
DEPLOYMENT_PREFERENCE = choice(
    "DeploymentPreference",
    group="Functions",
    label="How new function code reaches traffic",
    description="How CodeDeploy moves each function's live alias to newly deployed code or "
    "configuration. AllAtOnce: at once. Canary10Percent5Minutes: 10% of requests for 5 minutes, "
    "then all. Linear10PercentEvery1Minute: 10% more every minute. With AlarmsEnabled true, the "
    "function's error or duration alarm stops the shift and rolls it back to the previous "
    "version.",
    allowed=DEPLOYMENT_PREFERENCES,
    default="AllAtOnce",
)
PARAMETERS = (ASYNC_RETRY_ATTEMPTS, DEPLOYMENT_PREFERENCE)


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


def description_inputs(t: Template, fn: awslambda.Function) -> dict[str, Context]:
    """The parameters and layer versions the function's versioned properties take values from,
    in order of appearance (the code key first), each with the Fn::If branches it is used in
    (none when it is used outside any, or in more than one place)."""
    props = versioned_properties(fn)
    found: dict[str, Context] = {}
    for name, context in [*inputs(t, props.pop("Code")), *inputs(t, props)]:
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


def _sha256(artifact: str, key: str) -> tuple[str, object]:
    """The sha256 in an artifact's key: the part between `artifacts/<name>-` and `.zip`."""
    after = Select(1, Split(code_key_stem(artifact), Ref(key)))
    return f"{key}Sha256", Select(0, Split(".", after))


def _stream_label(table: dynamodb.Table) -> tuple[str, object]:
    """The table's stream label: new with every new table (and its new stream)."""
    return f"{table.title}StreamLabel", Select(1, Split(STREAM_MARK, table.get_att("StreamArn")))


def replaced_table(t: Template, parameter: str) -> dynamodb.Table:
    """The table a REPLACING parameter replaces (it names the table's key)."""
    [table] = [
        r
        for r in t.resources.values()
        if isinstance(r, dynamodb.Table) and Reference(parameter) in references(r.to_dict())
    ]
    return table


def is_setting(t: Template, name: str) -> bool:
    """A parameter recorded in the settings record rather than in the Version: free text and
    lists (no AllowedValues, not a Number), but not a code key or a table's key name."""
    if name not in t.parameters or name in REPLACING or name in _code_keys(t):
        return False
    spec = t.parameters[name]
    return not getattr(spec, "AllowedValues", None) and spec.Type != "Number"


def _code_keys(t: Template) -> dict[str, str]:
    """Code-key parameter -> its artifact."""
    return {code_key_parameter(a): a for a in ARTIFACTS if code_key_parameter(a) in t.parameters}


def settings_inputs(t: Template, fn: awslambda.Function) -> dict[str, Context]:
    """The function's inputs that the settings record holds, in order of appearance."""
    return {n: c for n, c in description_inputs(t, fn).items() if is_setting(t, n)}


def _joined(variables: dict[str, object | None]) -> Sub:
    text = SEPARATOR.join(f"${{{v}}}" for v in variables)
    return Sub(text, **{k: v for k, v in variables.items() if v is not None})


def settings_description(t: Template, inputs: dict[str, Context]) -> Sub:
    """The settings record's Description: its values joined by SEPARATOR."""
    return _joined(dict(_value(t, n, c) for n, c in inputs.items()))


def version_description(
    t: Template, fn: awslambda.Function, settings: awslambda.LayerVersion | None
) -> Sub:
    """The code's sha256, the fixed-width values in order of appearance, the stream label of
    each table a parameter would replace, and the settings record's version number, joined by
    SEPARATOR."""
    keys = _code_keys(t)
    variables: dict[str, object | None] = {}
    tables: dict[str, dynamodb.Table] = {}
    for name, context in description_inputs(t, fn).items():
        if name in keys:
            variable, value = _sha256(keys[name], name)
        elif name in REPLACING:
            table = replaced_table(t, name)
            tables[table.title] = table
            continue
        elif is_setting(t, name):
            continue
        else:
            variable, value = _value(t, name, context)
        variables[variable] = value
    variables.update(_stream_label(table) for table in tables.values())
    if settings is not None:
        variables.update([_value(t, settings.title, ())])
    return _joined(variables)


def _settings_record(t: Template, functions: Functions) -> awslambda.LayerVersion | None:
    """One LayerVersion whose Description records the functions' free-text settings (they
    share them: a value one function lacks would republish it unchanged, which Lambda refuses).
    """
    every = {name: settings_inputs(t, fn) for name, fn in functions.by_name.items()}
    inputs = next(iter(every.values()))
    if any(other != inputs for other in every.values()):
        raise ValueError(f"the functions' settings differ: {every}")
    if not inputs:
        return None
    return t.add_resource(
        awslambda.LayerVersion(
            logical_id("function", "settings", "layer"),
            LayerName=physical_name("settings"),
            Description=settings_description(t, inputs),
            Content=awslambda.Content(**code(LAYER)),
        )
    )


def _group(
    t: Template,
    name: str,
    application: codedeploy.Application,
    role: iam.Role,
    alarms: list[cloudwatch.Alarm],
) -> codedeploy.DeploymentGroup:
    return t.add_resource(
        codedeploy.DeploymentGroup(
            logical_id(name, "deployment", "group"),
            ApplicationName=Ref(application),
            ServiceRoleArn=role.get_att("Arn"),
            DeploymentConfigName=Sub(f"CodeDeployDefault.Lambda${{{DEPLOYMENT_PREFERENCE.name}}}"),
            DeploymentStyle=codedeploy.DeploymentStyle(
                DeploymentType="BLUE_GREEN", DeploymentOption="WITH_TRAFFIC_CONTROL"
            ),
            # The alarms exist only under AlarmsOn. Without them the group names none and
            # says so: a configuration left out keeps the alarms a group already has, which
            # then no longer exist (aws/aws-cdk#23307, aws/serverless-application-model#2452).
            AlarmConfiguration=If(
                ALARMS_ON,
                codedeploy.AlarmConfiguration(
                    Enabled=True, Alarms=[codedeploy.Alarm(Name=Ref(a)) for a in alarms]
                ),
                codedeploy.AlarmConfiguration(Enabled=False),
            ),
            AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(
                Enabled=True, Events=ROLLBACK_EVENTS
            ),
        )
    )


def add(t: Template, functions: Functions, monitoring: Monitoring) -> Deployments:
    """The settings record, the versions, their alarms, the application and its role, the groups
    (after the alarms they name), the aliases (after the groups their UpdatePolicy names), then
    the asynchronous-invocation settings on each alias: moto creates in document order."""
    settings = _settings_record(t, functions)
    versions = {
        name: t.add_resource(
            awslambda.Version(
                version_id(name, fn),
                FunctionName=Ref(fn),
                Description=version_description(t, fn, settings),
            )
        )
        for name, fn in functions.by_name.items()
    }
    specs = {f.name: f for f in FUNCTIONS}
    rollback_alarms = {
        name: add_alarms(
            t,
            version_alarms(specs[name], Ref(fn), LIVE, versions[name].get_att("Version")),
            monitoring.topic,
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
        name: _group(t, name, application, role, rollback_alarms[name])
        for name in functions.by_name
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
    # Asynchronous invocations retry as AsyncRetryAttempts says on the alias callers invoke (a
    # setting on $LATEST would govern no caller). The qualifier is the alias's name, not a
    # reference, hence the DependsOn.
    for name, fn in functions.by_name.items():
        t.add_resource(
            awslambda.EventInvokeConfig(
                logical_id(name, "invoke", "config"),
                DependsOn=[aliases[name].title],
                FunctionName=Ref(fn),
                Qualifier=LIVE,
                MaximumRetryAttempts=ASYNC_RETRY_ATTEMPTS.ref(),
            )
        )
    return Deployments(versions=versions, aliases=aliases, groups=groups, application=application)
