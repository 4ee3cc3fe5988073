"""The second template, dist/deploy-role.json: what GitHub Actions plans and deploys with
(.github/workflows/), created once per account by `make deploy-role GITHUB_REPO=owner/name`.

- GitHub's OIDC provider, unless the account has one already (IAM allows one per URL per
  account): GitHubOidcProviderArn names it then.
- a plan role, for pull requests; a deploy role per CI stage (test from main, prod from the
  `prod` environment); each trusts only a token of this repository whose audience is STS and
  whose subject is exactly that event's (`repo:<owner>/<name>:<SUBJECT>`): no stored keys.
- a CloudFormation service role per CI stage, which alone may touch the app's resources; its
  deploy role may only pass it to CloudFormation (`make deploy ROLE_ARN=...`).

What each may do: templates/deploy_permissions.py. The roles have fixed names (ROLE_NAMES), so
the workflows derive their ARNs from two repository variables, the account and the region."""

from dataclasses import dataclass

from awacs import sts
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, If, Output, Sub, Tags, Template, iam

from . import deploy_permissions, parameters, service_role_permissions
from .naming import logical_id
from .parameters import Param
from .security import assumed_by
from .tags import MANAGED_BY, PROJECT

DESCRIPTION = (
    "items-api CI/CD: GitHub's OIDC provider, a plan role for pull requests, a deploy role per "
    "stage and the CloudFormation service role it passes. Deployed once per account."
)
GITHUB = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
GROUPS = ("GitHub", "Stacks")

REPOSITORY = Param(
    "GitHubRepository",
    group="GitHub",
    label="GitHub repository",
    description="owner/name of the repository whose workflows plan and deploy, spelled as "
    "GitHub spells it (the token's subject is compared exactly).",
    pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
    constraint="must be owner/name.",
)
PROVIDER = Param(
    "GitHubOidcProviderArn",
    group="GitHub",
    label="Existing GitHub OIDC provider",
    description="The ARN of the account's GitHub OIDC provider, when it has one (one per "
    "account); empty: this stack creates it.",
    default="",
    pattern=rf"^(arn:aws[a-z-]*:iam::[0-9]{{12}}:oidc-provider/{GITHUB.replace('.', '[.]')})?$",
    constraint=f"must be empty or an oidc-provider/{GITHUB} ARN.",
)
PREFIX = Param(
    "StackNamePrefix",
    group="Stacks",
    label="Stack name prefix",
    description="The app's stacks are <prefix>-<stage> (make deploy's STACK_NAME); the roles "
    "are named after it too. The workflows assume the default.",
    default=PROJECT,
    pattern=r"^[a-z][a-z0-9-]{0,29}$",
    constraint="must be 1-30 lowercase letters, digits or hyphens, starting with a letter.",
)
BUCKET_PREFIX = Param(
    "ArtifactBucketPrefix",
    group="Stacks",
    label="Artifact bucket prefix",
    description="The artifact bucket is <prefix>-<account>-<region>, make deploy's default "
    "ARTIFACT_BUCKET.",
    default=f"{PROJECT}-artifacts",
    pattern=r"^[a-z0-9][a-z0-9-]{0,36}$",
    constraint="must be 1-37 lowercase letters, digits or hyphens.",
)
PARAMETERS = parameters.grouped(GROUPS, (REPOSITORY, PROVIDER, PREFIX, BUCKET_PREFIX))
CREATE_PROVIDER = "CreateGitHubOidcProvider"


@dataclass(frozen=True)
class CiRole:
    """A role a workflow job assumes: which stage's stack it works on, and the subject its
    token must carry (after `repo:<owner>/<name>:`)."""

    kind: str  # "plan" or "deploy"
    stage: str
    subject: str

    @property
    def name(self) -> str:
        """The role name after the prefix."""
        return "github-plan" if self.kind == "plan" else f"github-deploy-{self.stage}"


# pull_request: any pull request's jobs (no environment); refs/heads/main: pushes to main;
# environment:prod: jobs under `environment: prod`, which GitHub lets run only once its
# required reviewers approve.
CI_ROLES = (
    CiRole("plan", "test", "pull_request"),
    CiRole("deploy", "test", "ref:refs/heads/main"),
    CiRole("deploy", "prod", "environment:prod"),
)


def service_role_name(stage: str) -> str:
    """The CloudFormation service role's name after the prefix."""
    return f"cloudformation-{stage}"


def role_names(prefix: str = PROJECT) -> dict[str, str]:
    """Every role's name for this prefix (the workflows name them with the default)."""
    names = {f"{r.kind}-{r.stage}": f"{prefix}-{r.name}" for r in CI_ROLES}
    stages = [r.stage for r in CI_ROLES if r.kind == "deploy"]
    return names | {f"service-{s}": f"{prefix}-{service_role_name(s)}" for s in stages}


def github_trust(provider: If, subject: str) -> PolicyDocument:
    """Only a GitHub Actions token for STS, of this repository and this subject."""
    claims = {
        f"{GITHUB}:aud": AUDIENCE,
        f"{GITHUB}:sub": Sub(f"repo:${{{REPOSITORY.name}}}:{subject}"),
    }
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Federated", provider),
                Action=[sts.AssumeRoleWithWebIdentity],
                Condition=Condition(StringEquals(claims)),
            )
        ],
    )


def _names(stage: str) -> dict[str, str]:
    """What the grants' patterns name, as Fn::Sub text, for the stage's stack."""
    prefix = f"${{{PREFIX.name}}}"
    return {
        "stack": f"{prefix}-{stage}",
        "stage": stage,
        "bucket": f"${{{BUCKET_PREFIX.name}}}-${{AWS::AccountId}}-${{AWS::Region}}",
        "service_role": f"{prefix}-{service_role_name(stage)}",
    }


def _role(t: Template, title: str, name: str, trust: PolicyDocument, why: str,
          policies: list[iam.Policy] | None = None) -> iam.Role:  # fmt: skip
    """A role named <prefix>-<name>, its ARN an output."""
    role = t.add_resource(
        iam.Role(
            title,
            RoleName=Sub(f"${{{PREFIX.name}}}-{name}"),
            Description=why,
            AssumeRolePolicyDocument=trust,
            MaxSessionDuration=3600,
            Tags=Tags(Project=PROJECT, ManagedBy=MANAGED_BY),
            **({"Policies": policies} if policies else {}),
        )
    )
    t.add_output(Output(f"{title}Arn", Description=why, Value=role.get_att("Arn")))
    return role


def _ci_role(t: Template, role: CiRole, provider: If) -> iam.Role:
    """A workflow's role: its grants inline (they fit one policy)."""
    if role.kind == "plan":
        why = f"make plan STAGE={role.stage} from pull requests: reads and change sets only."
        grants = deploy_permissions.PLAN
    else:
        why = (
            f"make deploy STAGE={role.stage} from GitHub ({role.subject}): its stack, the "
            "artifact bucket, and its CloudFormation service role passed to CloudFormation."
        )
        grants = deploy_permissions.deploy(role.stage)
    document = deploy_permissions.policy(grants, _names(role.stage))
    title = logical_id(role.kind, *([role.stage] if role.kind == "deploy" else []), "role")
    trust = github_trust(provider, role.subject)
    inline = [iam.Policy(PolicyName=role.name, PolicyDocument=document)]
    return _role(t, title, role.name, trust, why, inline)


def _service_role(t: Template, stage: str) -> iam.Role:
    """CloudFormation's role for the stage's stack: its grants as managed policies (they
    outgrow a role's inline policies)."""
    why = f"What CloudFormation does to the {stage} stack's resources (make deploy ROLE_ARN)."
    title = logical_id("cloudformation", stage, "role")
    role = _role(t, title, service_role_name(stage), assumed_by("cloudformation"), why)
    for group, grants in service_role_permissions.SERVICE.items():
        t.add_resource(
            iam.ManagedPolicy(
                logical_id("cloudformation", stage, group, "policy"),
                Description=f"{stage} stack: {group.replace('-', ' ')}",
                PolicyDocument=deploy_permissions.policy(grants, _names(stage)),
                Roles=[role.ref()],
            )
        )
    return role


def build_deploy_roles() -> Template:
    """The OIDC provider (conditional), each CI role and, per deploy stage, the service role."""
    t = Template(Description=DESCRIPTION)
    t.set_version("2010-09-09")
    parameters.add(t, PARAMETERS)
    t.add_condition(CREATE_PROVIDER, Equals(PROVIDER.ref(), ""))
    created = t.add_resource(
        iam.OIDCProvider(
            logical_id("github", "oidc", "provider"),
            Condition=CREATE_PROVIDER,
            Url=f"https://{GITHUB}",
            ClientIdList=[AUDIENCE],
            Tags=Tags(Project=PROJECT, ManagedBy=MANAGED_BY),
        )
    )
    provider = If(CREATE_PROVIDER, created.ref(), PROVIDER.ref())
    t.add_output(Output("GitHubOidcProviderArn", Value=provider))
    for role in CI_ROLES:
        if role.kind == "deploy":
            _service_role(t, role.stage)
        _ci_role(t, role, provider)
    return t
