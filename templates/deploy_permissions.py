"""What the CI/CD roles may do (the second template, templates/deploy_roles.py): three tables of
grants, filled in per stage by one pure builder.

- PLAN: `make plan STAGE=test` from a pull request: preflight's reads, the stack's reads, change
  sets created, read and deleted (never executed), the plan's own template uploads. It may
  delete a stack only while that is the empty shell its own CREATE change set made: the shell
  carries PLAN_SHELL_TAG (tools/deploy/changes.py tags it), a stack `make deploy` made never does.
- DEPLOY: `make deploy STAGE=<stage>`: the same reads, the artifact bucket (created locked-down
  when absent, as tools/deploy/cli.py does), the artifacts, the deploy record, change sets run
  on the stage's own stack, its stack policy, and iam:PassRole of that stage's CloudFormation
  service role, to CloudFormation only. Nothing else: no resource of the app.
- SERVICE, the CloudFormation service role's: templates/service_role_permissions.py.

A pattern may name {stack} (the stage's stack name), {stage}, {bucket} (the artifact bucket)
and {service_role}; ARNs are Fn::Sub text of this account, region and partition. `*` stands
alone as a Resource only where the action has no resource-level permission (`why` says so);
no action is a wildcard."""

from dataclasses import dataclass

from awacs.aws import (
    Action,
    Allow,
    Condition,
    ConditionElement,
    PolicyDocument,
    Statement,
    StringEquals,
)
from troposphere import Sub

# The S3 keys of the artifact bucket each role touches (build.py's Artifact.s3_key, the
# `--s3-prefix` tools/deploy/cli.py gives `aws cloudformation deploy`, changes.template_url's
# key, drift.record_key): tests/templates/test_deploy_roles.py checks they match.
ARTIFACT_KEYS = "artifacts/*"
TEMPLATE_KEYS = "templates/*"
PLAN_TEMPLATE_KEYS = "templates/*.template.json"  # the plan's own, never awscli's `<md5>.template`
RECORD_KEY = "deployed/{stack}.json"
# The tag the plan's CREATE change set gives the empty stack it makes (tools/deploy/changes.py).
PLAN_SHELL_TAG = ("items-api:plan", "empty-stack")
# The stages whose stack gets termination protection (tools/deploy/cli.py sets it).
TERMINATION_PROTECTED = ("prod",)


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    """An ARN pattern (Fn::Sub text) of this partition, and this region and account unless the
    service's ARNs leave them out."""
    where = "${AWS::Region}" if region else ""
    owner = "${AWS::AccountId}" if account else ""
    return f"arn:${{AWS::Partition}}:{service}:{where}:{owner}:{resource}"


@dataclass(frozen=True)
class Grant:
    """One statement: exactly `actions` on `resources` (patterns), under an optional condition
    (operator, key, value patterns). `why`: the reason a Resource is `*`."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: tuple[type[ConditionElement], str, tuple[str, ...]] | None = None
    why: str = ""


def of(service: str, names: str) -> tuple[str, ...]:
    """`service:Name` for each of the space-separated names."""
    return tuple(f"{service}:{name}" for name in names.split())


BUCKET = "arn:${AWS::Partition}:s3:::{bucket}"
STACK = arn("cloudformation", "stack/{stack}/*")
FUNCTIONS = (arn("lambda", "function:{stack}-*"), arn("lambda", "function:{stack}-*:*"))
# The app's roles: the functions' under their path (/<stack>/), the others named by
# CloudFormation <stack>-<logical ID>-<suffix>. The CI roles' names never match these.
ROLES = (arn("iam", "role/{stack}-*", region=False), arn("iam", "role/{stack}/*", region=False))
NO_RESOURCE = "the action has no resource-level permission: AWS accepts only `*`"

# Preflight's read-only checks (tools/deploy/preflight.py), for plan and deploy alike.
PREFLIGHT = (
    Grant(
        "PreflightApiGatewayAccount",
        of("apigateway", "GET"),
        (arn("apigateway", "/account", account=False),),
    ),
    # The custom domain name must be free (CustomDomainName, a parameter: any name).
    Grant(
        "PreflightDomainName",
        of("apigateway", "GET"),
        (arn("apigateway", "/domainnames/*", account=False),),
    ),
    Grant(
        "PreflightCloudWatchRole",
        of("iam", "GetRole"),
        (arn("iam", "role/*", region=False),),
        why="the account's API Gateway CloudWatch role may have any name",
    ),
    Grant("PreflightFunctions", of("lambda", "GetFunction GetFunctionConcurrency"), FUNCTIONS),
    Grant(
        "PreflightAlarmNames", of("cloudwatch", "DescribeAlarms"), (arn("cloudwatch", "alarm:*"),)
    ),
    Grant(
        "PreflightWithoutResources",
        (
            *of("cloudwatch", "ListDashboards"),
            *of("kms", "ListAliases"),
            *of("lambda", "GetAccountSettings"),
        ),
        ("*",),
        why=NO_RESOURCE,
    ),
)

PLAN = (
    *PREFLIGHT,
    Grant(
        "PlanStack",
        of(
            "cloudformation",
            "CreateChangeSet DeleteChangeSet DescribeChangeSet DescribeStacks ListStackResources",
        ),
        (STACK,),
    ),
    Grant(
        "PlanShellOnly",
        of("cloudformation", "DeleteStack"),
        (STACK,),
        (StringEquals, f"aws:ResourceTag/{PLAN_SHELL_TAG[0]}", (PLAN_SHELL_TAG[1],)),
    ),
    Grant("ArtifactBucketExists", of("s3", "ListBucket"), (BUCKET,)),
    Grant("PlanTemplates", of("s3", "GetObject PutObject"), (f"{BUCKET}/{PLAN_TEMPLATE_KEYS}",)),
    Grant("DeployRecordRead", of("s3", "GetObject"), (f"{BUCKET}/{RECORD_KEY}",)),
)

DEPLOY_STACK = of(
    "cloudformation",
    "CreateChangeSet DeleteChangeSet DeleteStack DescribeChangeSet DescribeStackEvents "
    "DescribeStacks ExecuteChangeSet GetTemplate ListStackResources SetStackPolicy",
)


def deploy(stage: str) -> tuple[Grant, ...]:
    """The deploy role of `stage`: its stack (and its termination protection where that is
    on), the artifact bucket and the service role, to CloudFormation only."""
    protection = of("cloudformation", "UpdateTerminationProtection")
    stack = DEPLOY_STACK + (protection if stage in TERMINATION_PROTECTED else ())
    return (
        *PREFLIGHT,
        Grant("DeployStack", tuple(sorted(stack)), (STACK,)),
        Grant(
            "PassServiceRole",
            of("iam", "PassRole"),
            (arn("iam", "role/{service_role}", region=False),),
            (StringEquals, "iam:PassedToService", ("cloudformation.amazonaws.com",)),
        ),
        Grant(
            "ArtifactBucket",
            of(
                "s3",
                "CreateBucket ListBucket PutBucketPublicAccessBlock PutBucketVersioning "
                "PutEncryptionConfiguration",
            ),
            (BUCKET,),
        ),
        Grant(
            "ArtifactObjects",
            of("s3", "GetObject PutObject"),
            (f"{BUCKET}/{ARTIFACT_KEYS}", f"{BUCKET}/{TEMPLATE_KEYS}", f"{BUCKET}/{RECORD_KEY}"),
        ),
    )


def _text(pattern: str, names: dict[str, str]) -> str:
    """The pattern with its {stack}, {stage}, {bucket} and {service_role} filled in (plain
    replace: the Fn::Sub variables' own braces stay)."""
    for key, value in names.items():
        pattern = pattern.replace(f"{{{key}}}", value)
    return pattern


def _value(pattern: str, names: dict[str, str]) -> str | Sub:
    """A resource or condition value: an Fn::Sub where it names a variable."""
    text = _text(pattern, names)
    return Sub(text) if "${" in text else text


def statement(grant: Grant, names: dict[str, str]) -> Statement:
    """The grant as an awacs statement, its patterns filled with `names` (Fn::Sub text)."""
    extra = {}
    if grant.condition:
        operator, key, values = grant.condition
        extra["Condition"] = Condition(operator({key: [_value(v, names) for v in values]}))
    return Statement(
        Sid=grant.sid,
        Effect=Allow,
        Action=[Action(*a.split(":", 1)) for a in grant.actions],
        Resource=[_value(r, names) for r in grant.resources],
        **extra,
    )


def policy(grants: tuple[Grant, ...], names: dict[str, str]) -> PolicyDocument:
    """One policy of these grants, for the stage `names` describes."""
    return PolicyDocument(Version="2012-10-17", Statement=[statement(g, names) for g in grants])
