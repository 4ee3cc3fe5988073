"""The CI/CD roles' template (dist/deploy-role.json, templates/deploy_roles.py and
deploy_permissions.py), table by table: each role trusts only this repository's token for its
one event; nothing is a wildcard action; the plan role writes nothing but its own change sets;
each deploy role can only drive its stage's stack and pass its stage's service role; the
service role covers what CloudFormation's handlers need for the app's resource types (their
schemas, as cfn-lint bundles them), on the names the app's stack gives its resources; the
policies fit IAM's size limits; the S3 keys and tags match the code that writes them; cfn-lint
passes. (checkov and cfripper: `make scan`.)"""

import ast
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import build
from templates import deploy_permissions as perms
from templates import service_role_permissions as service
from templates.deploy_roles import CI_ROLES, GITHUB, build_deploy_roles, role_names
from templates.naming import logical_id
from templates.suppressions import REASONS_KEY
from tests.cfn import ROOT, _schemas, resources_of_type
from tools.deploy import changes, cli, drift, preflight, stage_params
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Evaluator, parameter_values, pseudo_parameters

REGION, ACCOUNT, REPO = "us-west-2", "123456789012", "octo-org/items-api"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
CREATED = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}#created"  # the stack's own provider
# Each role's subject, written out here, not derived from CI_ROLES.
SUBJECTS = {
    "PlanRole": "pull_request",
    "DeployTestRole": "ref:refs/heads/main",
    "DeployProdRole": "environment:prod",
}
SERVICE_ROLES = {"CloudformationTestRole": "test", "CloudformationProdRole": "prod"}
# The only actions with a `*` Resource: none of them has a resource-level permission (the
# event source mapping's create is limited by its function instead).
STAR_ACTIONS = {
    "cloudwatch:ListDashboards", "kms:ListAliases", "lambda:GetAccountSettings",
    "kms:CreateKey", "lambda:CreateEventSourceMapping", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
    # WAF's logging (its log delivery, the account's log resource policy) and Route 53's list.
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy",
    "route53:ListHostedZones",
}  # fmt: skip
# What the plan role may change: change sets, its own empty shell, its own template uploads.
PLAN_WRITES = {"cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet",
               "cloudformation:DeleteStack", "s3:PutObject"}  # fmt: skip
# A deploy role's actions, written out (preflight's reads, its stack, the bucket, PassRole).
DEPLOY_ACTIONS = {
    "apigateway:GET", "iam:GetRole", "lambda:GetFunction", "lambda:GetFunctionConcurrency",
    "cloudwatch:DescribeAlarms", "cloudwatch:ListDashboards", "kms:ListAliases",
    "lambda:GetAccountSettings", "cloudformation:CreateChangeSet",
    "cloudformation:DeleteChangeSet", "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet", "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks", "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate", "cloudformation:ListStackResources",
    "cloudformation:SetStackPolicy", "iam:PassRole", "s3:CreateBucket", "s3:ListBucket",
    "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
    "s3:GetObject", "s3:PutObject",
}  # fmt: skip
# Beyond the handlers' lists: CloudFormation invokes a custom resource's function as the role.
SERVICE_EXTRA = {"lambda:InvokeFunction"}
# Service-role patterns that are the account's and region's, not the stack's: IDs AWS makes
# (keys, event source mappings, REST APIs, web ACLs), reads, CodeDeploy's own configurations,
# and what parameters name (the custom domain, its hosted zone).
ACCOUNT_WIDE = {"key/*", "event-source-mapping:*", "log-group:*", "alarm:*",
                "deploymentconfig:CodeDeployDefault.Lambda*", "/restapis", "/restapis/*",
                "/apikeys", "/apikeys/*", "/usageplans", "/usageplans/*", "/tags", "/tags/*",
                "/account", "/domainnames", "/domainnames/*",
                # WAF makes a web ACL's ID; the domain and its hosted zone are parameters.
                "regional/webacl/*/*", "regional/managedruleset/*/*", "hostedzone/*",
                "change/*"}  # fmt: skip
# preflight.py's name checks (names.toml `check`) and the read each makes.
NAME_CHECKS = {"lambda": "lambda:GetFunction", "alarm": "cloudwatch:DescribeAlarms",
               "dashboard": "cloudwatch:ListDashboards", "kms-alias": "kms:ListAliases",
               "logs": "logs:DescribeLogGroups", "role": "iam:GetRole",
               "queue": "sqs:GetQueueUrl", "topic": "sns:ListTopics",
               "table": "dynamodb:DescribeTable", "bucket": "s3:ListBucket",
               "codedeploy": "codedeploy:GetApplication", "domain": "apigateway:GET"}  # fmt: skip
# The service role's IAM actions (cfripper's PrivilegeEscalationRule), WAF's log delivery
# (its WildcardResourceRule).
MAX_SUPPRESSIONS = 2
INLINE_LIMIT, MANAGED_LIMIT = 10_240, 6_144  # IAM's policy sizes, whitespace not counted


@pytest.fixture(scope="module")
def roles() -> dict:
    return build_deploy_roles().to_dict()


def _resolved(roles: dict, provider: str = "", **values: str) -> dict[str, dict]:
    """Every resource as CloudFormation creates it in REGION and ACCOUNT."""
    given = {"GitHubRepository": REPO, "GitHubOidcProviderArn": provider, **values}
    created = {
        rid for rid, r in roles["Resources"].items() if r["Type"] == "AWS::IAM::OIDCProvider"
    }

    def reference(name: str, attribute: str | None) -> str:
        """The provider's ARN; any other resource's Ref its logical ID (the roles' names)."""
        return CREATED if name in created else name if attribute is None else f"{name}.{attribute}"

    evaluator = Evaluator(
        roles, parameter_values(roles, given, pseudo_parameters(REGION, ACCOUNT)), reference
    )
    made = [rid for rid in roles["Resources"] if evaluator.created(rid)]
    return {rid: evaluator.resolve(roles["Resources"][rid]) for rid in made}


def _statements(resource: dict) -> list[dict]:
    props = resource["Properties"]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
    documents += [props["PolicyDocument"]] if "PolicyDocument" in props else []
    return [s for d in documents for s in d["Statement"]]


def _granted(resources: dict[str, dict], role: str) -> list[dict]:
    """The statements granting to `role`: its inline policies and the managed ones naming it."""
    found = _statements(resources[role])
    for r in resources.values():
        if r["Type"] == "AWS::IAM::ManagedPolicy" and role in r["Properties"]["Roles"]:
            found += _statements(r)
    return found


def _actions(statements: list[dict]) -> set[str]:
    return {a for s in statements for a in s["Action"]}


@pytest.mark.parametrize("provider", ["", PROVIDER], ids=["new-provider", "existing-provider"])
@pytest.mark.parametrize("role", sorted(SUBJECTS))
def test_each_ci_role_trusts_only_this_repositorys_token_for_its_one_event(roles, provider, role):
    trust = _resolved(roles, provider)[role]["Properties"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Federated": provider or CREATED}
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Condition"] == {
        "StringEquals": {
            f"{GITHUB}:aud": "sts.amazonaws.com",
            f"{GITHUB}:sub": f"repo:{REPO}:{SUBJECTS[role]}",
        }
    }
    assert {r.subject for r in CI_ROLES} == set(SUBJECTS.values())


@pytest.mark.parametrize("role", sorted(SERVICE_ROLES))
def test_the_service_roles_trust_cloudformation_only(roles, role):
    [statement] = roles["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["cloudformation.amazonaws.com"]}
    assert statement["Action"] == ["sts:AssumeRole"]


def test_the_repository_parameter_is_required_and_takes_no_wildcard(roles):
    import re

    spec = roles["Parameters"]["GitHubRepository"]
    assert "Default" not in spec
    assert re.fullmatch(spec["AllowedPattern"], REPO)
    for bad in ("octo-org/*", "octo-org", "*/items-api", "octo-org/items-api:ref"):
        assert not re.fullmatch(spec["AllowedPattern"], bad), bad


def test_the_oidc_provider_is_created_only_when_the_account_has_none(roles):
    [(rid, provider)] = resources_of_type(roles, "AWS::IAM::OIDCProvider").items()
    assert provider["Condition"] == "CreateGitHubOidcProvider"
    assert roles["Conditions"]["CreateGitHubOidcProvider"] == {
        "Fn::Equals": [{"Ref": "GitHubOidcProviderArn"}, ""]
    }
    assert provider["Properties"]["Url"] == f"https://{GITHUB}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert rid in _resolved(roles, "") and rid not in _resolved(roles, PROVIDER)


def test_no_action_is_a_wildcard_and_star_resources_are_the_few_that_need_it(roles):
    for rid, r in roles["Resources"].items():
        for s in _statements(r) if r["Type"] != "AWS::IAM::OIDCProvider" else []:
            assert s["Effect"] == "Allow", rid
            assert not any("*" in a or "?" in a for a in s["Action"]), (rid, s["Sid"])
            if "*" in s["Resource"]:
                assert s["Resource"] == ["*"] and set(s["Action"]) <= STAR_ACTIONS, (rid, s)


def test_every_star_resource_grant_says_why():
    grants = [
        *perms.PLAN,
        *perms.deploy("prod"),
        *(g for gs in service.SERVICE.values() for g in gs),
    ]
    for g in grants:
        assert "*" not in g.resources or g.why, g.sid


def test_the_plan_role_reads_and_plans_but_cannot_execute_or_write(roles):
    statements = _granted(_resolved(roles), "PlanRole")
    reads = ("Describe", "Get", "List", "GET")
    assert {a for a in _actions(statements) if not a.split(":")[1].startswith(reads)} == PLAN_WRITES
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/items-api-test/*"
    for s in statements:
        if "cloudformation:DeleteStack" in s["Action"]:  # only the shell its own plan made
            assert s["Action"] == ["cloudformation:DeleteStack"] and s["Resource"] == [stack]
            tag = changes.PLAN_SHELL_TAG
            assert s["Condition"] == {
                "StringEquals": {f"aws:ResourceTag/{tag['Key']}": [tag["Value"]]}
            }
        if "s3:PutObject" in s["Action"]:
            bucket = f"items-api-artifacts-{ACCOUNT}-{REGION}"
            assert s["Resource"] == [f"arn:aws:s3:::{bucket}/templates/*.template.json"]
        if s["Sid"] not in {"PreflightCloudWatchRole", "PreflightAlarmNames",
                            "PreflightWithoutResources", "PreflightApiGatewayAccount",
                            "PreflightDomainName"}:  # fmt: skip
            assert all("items-api-test" in r or "artifacts" in r for r in s["Resource"]), s


@pytest.mark.parametrize(
    ("role", "stage"), [("DeployTestRole", "test"), ("DeployProdRole", "prod")]
)
def test_a_deploy_role_drives_only_its_stages_stack_and_passes_only_its_service_role(
    roles, role, stage
):
    statements = _granted(_resolved(roles), role)
    protection = {"cloudformation:UpdateTerminationProtection"} if stage == "prod" else set()
    assert _actions(statements) == DEPLOY_ACTIONS | protection
    for s in statements:
        for action in s["Action"]:
            if action.startswith("cloudformation:"):
                assert s["Resource"] == [
                    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/items-api-{stage}/*"
                ]
        if "iam:PassRole" in s["Action"]:
            assert s["Resource"] == [
                f"arn:aws:iam::{ACCOUNT}:role/items-api-cloudformation-{stage}"
            ]
            assert s["Condition"] == {
                "StringEquals": {"iam:PassedToService": ["cloudformation.amazonaws.com"]}
            }
        if "s3:PutObject" in s["Action"]:
            bucket = f"arn:aws:s3:::items-api-artifacts-{ACCOUNT}-{REGION}"
            assert s["Resource"] == [f"{bucket}/artifacts/*", f"{bucket}/templates/*",
                                     f"{bucket}/deployed/items-api-{stage}.json"]  # fmt: skip


def _handler_permissions(template: dict) -> dict[str, set[str]]:
    """action -> the app's resource types whose create, read, update or delete handler lists it."""
    types = {r["Type"] for r in template["Resources"].values()}
    found: dict[str, set[str]] = {}
    for schema in _schemas():
        if schema["typeName"] in types:
            for op in ("create", "read", "update", "delete"):
                for action in schema.get("handlers", {}).get(op, {}).get("permissions", []):
                    found.setdefault(action, set()).add(schema["typeName"])
    return found


def test_the_service_role_covers_every_handler_permission_or_says_why_not(template, roles):
    granted = _actions(_granted(_resolved(roles), "CloudformationTestRole"))
    needed = _handler_permissions(template)
    withheld = {a for names in service.NOT_GRANTED.values() for a in names.split()}
    assert sorted(set(needed) - granted - withheld) == []  # nothing the handlers need is missing
    assert sorted(granted - set(needed) - SERVICE_EXTRA) == []  # nothing beyond what they list
    assert sorted(granted & withheld) == [] and sorted(withheld - set(needed)) == []
    assert {r["Type"] for r in template["Resources"].values()} - {
        t for ts in needed.values() for t in ts
    } == {"Custom::ApiDeployment"}  # every type has a schema but the custom resource


def _patterns(statements: list[dict], service: str) -> list[str]:
    return [r for s in statements if any(a.startswith(f"{service}:") for a in s["Action"])
            for r in s["Resource"]]  # fmt: skip


# The ARN of a resource named `name` (generated by CloudFormation where the template gives
# none), by type: one row each, the type then the ARN.
ARNS = dict(
    row.split()
    for row in """
AWS::Lambda::Function            arn:aws:lambda:{r}:{a}:function:{name}
AWS::Lambda::LayerVersion        arn:aws:lambda:{r}:{a}:layer:{name}:1
AWS::CloudWatch::Alarm           arn:aws:cloudwatch:{r}:{a}:alarm:{name}
AWS::CloudWatch::Dashboard       arn:aws:cloudwatch::{a}:dashboard/{name}
AWS::KMS::Alias                  arn:aws:kms:{r}:{a}:{name}
AWS::Logs::LogGroup              arn:aws:logs:{r}:{a}:log-group:{name}:*
AWS::IAM::Role                   arn:aws:iam::{a}:role{path}{name}
AWS::DynamoDB::Table             arn:aws:dynamodb:{r}:{a}:table/{name}
AWS::SQS::Queue                  arn:aws:sqs:{r}:{a}:{name}
AWS::SNS::Topic                  arn:aws:sns:{r}:{a}:{name}
AWS::S3::Bucket                  arn:aws:s3:::{name}
AWS::CodeDeploy::Application     arn:aws:codedeploy:{r}:{a}:application:{name}
AWS::CodeDeploy::DeploymentGroup arn:aws:codedeploy:{r}:{a}:deploymentgroup:{stack}-App-X/{name}
""".strip().splitlines()
)


@pytest.mark.parametrize("stage", ["test", "prod"])
def test_the_service_role_reaches_every_name_the_stages_stack_gives_its_resources(
    template, roles, stage
):
    """Fixed names as preflight resolves them; the others as CloudFormation makes them,
    <stack>-<logical ID>-<suffix> (a bucket's lowercased)."""
    stack = f"items-api-{stage}"
    statements = _granted(_resolved(roles), logical_id("cloudformation", stage, "role"))
    values = stage_params.with_defaults(template, stage_values(template, stage))
    names = preflight.Names(template, stack, REGION, values)
    fixed = {n.logical_id: n.text.replace("<Api id>", "a1b2c3d4e5")
             for n in preflight.derived_names(names)}  # fmt: skip
    checked = 0
    for rid, r in template["Resources"].items():
        if r["Type"] not in ARNS or not names.created(rid):
            continue
        form = ARNS[r["Type"]]
        service = form.split(":")[2]
        name = fixed.get(rid, f"{stack}-{rid}-ABCDEF123456")
        name = name.lower() if r["Type"] == "AWS::S3::Bucket" else name
        path = names.resolve(r["Properties"].get("Path", "/")).replace("\x01", stack)
        arn = form.format(r=REGION, a=ACCOUNT, name=name, path=path, stack=stack)
        patterns = _patterns(statements, service)
        assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), (rid, arn, patterns)
        checked += 1
    assert checked > 100


def test_the_service_role_cannot_touch_the_ci_roles_or_another_stage(roles):
    resolved = _resolved(roles)
    for rid, stage in SERVICE_ROLES.items():
        patterns = _patterns(_granted(resolved, rid), "iam")
        mutating = [p for p in patterns if not p.endswith(":role/*")]  # GetRole's read
        for name in role_names().values():
            assert not any(fnmatch.fnmatchcase(f"arn:aws:iam::{ACCOUNT}:role/{name}", p)
                           for p in mutating), (rid, name)  # fmt: skip
        other = "prod" if stage == "test" else "test"
        for s in _granted(resolved, rid):
            assert not any(f"items-api-{other}" in r for r in s["Resource"]), (rid, s["Sid"])


def test_the_service_roles_scope_is_the_stack_wherever_aws_allows():
    for group in service.SERVICE.values():
        for grant in group:
            for pattern in grant.resources:
                named = any(k in pattern for k in ("{stack}", "{stage}", "{bucket}"))
                wide = (
                    pattern == "*"
                    or pattern.rsplit(":", 1)[-1] in ACCOUNT_WIDE
                    or any(pattern.endswith(f":{w}") for w in ACCOUNT_WIDE)
                )
                assert named or wide, (grant.sid, pattern)


def test_the_roles_grant_every_read_preflight_makes(template, roles):
    resolved = _resolved(roles)
    needed = {"apigateway:GET", "iam:GetRole", "lambda:GetAccountSettings",
              "lambda:GetFunctionConcurrency", "cloudformation:ListStackResources"}  # fmt: skip
    for stage in ("test", "prod"):
        values = stage_params.with_defaults(template, stage_values(template, stage))
        names = preflight.Names(template, f"items-api-{stage}", REGION, values)
        needed |= {NAME_CHECKS[n.rule.check] for n in preflight.derived_names(names)
                   if n.fixed and n.rule.check}  # fmt: skip
    assert set(NAME_CHECKS) == {rule.check for rule in preflight.RULES.values() if rule.check}
    for role in ("PlanRole", "DeployTestRole", "DeployProdRole"):
        assert needed <= _actions(_granted(resolved, role)), role


@pytest.mark.parametrize("prefix", ["items-api", "a" * 30])
def test_the_policies_fit_iams_size_limits_with_the_longest_names(roles, prefix):
    resolved = _resolved(roles, StackNamePrefix=prefix, ArtifactBucketPrefix="b" * 37)
    for rid, r in resolved.items():
        if r["Type"] == "AWS::IAM::Role":
            assert len(r["Properties"]["RoleName"]) <= 64, rid
        sizes = [len(json.dumps(p["PolicyDocument"], separators=(",", ":")))
                 for p in r["Properties"].get("Policies", [])]  # fmt: skip
        assert sum(sizes) <= INLINE_LIMIT, (rid, sizes)
        if r["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(json.dumps(r["Properties"]["PolicyDocument"], separators=(",", ":")))
            assert size <= MANAGED_LIMIT, (rid, size)


def test_the_s3_keys_are_the_codes(aws_env):
    """The patterns match the keys build.py, cli.py, changes.py and drift.py write (the plan's
    shell tag and the protected stages the tools take from deploy_permissions itself)."""
    key = build.Artifact("get_item", "0" * 64, 1).s3_key
    assert fnmatch.fnmatchcase(key, perms.ARTIFACT_KEYS)
    assert f"{cli.TEMPLATE_PREFIX}/*" == perms.TEMPLATE_KEYS
    assert drift.record_key("items-api-test") == perms.RECORD_KEY.replace(
        "{stack}", "items-api-test"
    )

    class S3:
        class meta:
            endpoint_url = "https://s3"

        def put_object(self, **kwargs: object) -> None:
            self.key = kwargs["Key"]

    s3 = S3()
    changes.template_url(s3, "bucket", b"{}")
    assert fnmatch.fnmatchcase(s3.key, perms.PLAN_TEMPLATE_KEYS)
    # `aws cloudformation deploy --s3-prefix templates` uploads templates/<md5>.template
    assert not fnmatch.fnmatchcase("templates/" + "0" * 32 + ".template", perms.PLAN_TEMPLATE_KEYS)
    with mock_aws():
        release = cli.Release("test", "items-api-test", REGION, ROOT / "dist", {}, {}, {})
        _, bucket = cli.session_and_bucket(release, None)
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    assert bucket == f"items-api-artifacts-{account}-{REGION}"  # the roles' default bucket


def test_the_plans_create_change_set_tags_its_shell():
    """A CREATE change set (no live stack) carries PLAN_SHELL_TAG; an UPDATE one no tag."""
    calls = []

    class Stop(Exception):
        response = {"Error": {"Message": "stop"}}  # noqa: RUF012 (botocore's ClientError shape)

    class Cfn:
        class exceptions:
            ClientError = Stop

        def create_change_set(self, **kwargs: object) -> dict:
            calls.append(kwargs)
            raise Stop

    for live in (None, {"StackId": "s"}):
        with pytest.raises(changes.ChangeSetError, match="stop"):
            changes.preview(Cfn(), "items-api-test", "url", {}, {}, live, {}, {})
    assert calls[0]["Tags"] == [changes.PLAN_SHELL_TAG] and "Tags" not in calls[1]


def test_the_scanners_suppressions_are_few_and_each_says_why(roles):
    for rid, r in roles["Resources"].items():
        metadata = r.get("Metadata", {})
        assert not ({"cfn-lint", "checkov", REASONS_KEY} & set(metadata)), rid
    # Read, not imported: cfripper lives in .venv-checkov.
    source = (ROOT / "tools" / "scan" / "cfripper-deploy-roles" / "filters.py").read_text()
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    filters = [call for call in calls if getattr(call.func, "id", "") == "Filter"]
    assert 0 < len(filters) <= MAX_SUPPRESSIONS
    for f in filters:
        [reason] = [ast.literal_eval(k.value) for k in f.keywords if k.arg == "reason"]
        assert len(reason.split()) >= 12 and reason.endswith("."), reason


def test_dist_holds_the_current_template_and_cfn_lint_passes_it(roles):
    path = ROOT / "dist" / "deploy-role.json"
    assert path.read_text() == build_deploy_roles().to_json(sort_keys=False) + "\n", (
        "run make template"
    )
    lint = Path(sys.executable).with_name("cfn-lint")
    command = [lint, "-c", "I", "-a", "cfn_lint_serverless.rules", "-t", path]
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")
