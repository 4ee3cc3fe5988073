"""Security invariants of the built template that the scanners (cfn-lint, checkov, cfripper, run by
`make scan`) do not check, and the scanners' suppressions themselves: few, and each explained."""

import fnmatch
import importlib.util
import json
import re
from pathlib import Path

import pytest

from items_common.validation import ITEM_SCHEMA as HANDLERS_SCHEMA
from templates.catalog import FUNCTIONS
from templates.naming import logical_id
from templates.suppressions import REASONS_KEY
from tests.cfn import ROOT, function_policy, policy_statements, references, resources_of_type
from tools.deploy import stage_params
from tools.deploy.stack_policy import STATEFUL_TYPES
from tools.intrinsics import Resolver

MAX_SUPPRESSIONS = 8
PROD = "prod"


def _values(template: dict, stage: str, **change: str) -> dict[str, str]:
    return {**stage_params.validate(ROOT / "params" / f"{stage}.json", template), **change}


def _one(template: dict, type_: str) -> tuple[str, dict]:
    [(rid, r)] = resources_of_type(template, type_).items()
    return rid, r["Properties"]


def _cfripper_exceptions() -> list[tuple[str, str, str]]:
    """(file, rules, reason) for every Filter in tools/scan/cfripper/*.py."""
    found = []
    for path in sorted((ROOT / "tools" / "scan" / "cfripper").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"cfripper_filters_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for f in getattr(module, "FILTERS", []):
            found.append((path.name, ",".join(sorted(f.rules or ())), f.reason))
    return found


def suppressions(template: dict) -> list[tuple[str, str, str, str]]:
    """(tool, where, rule, reason) for every suppression across the three scanners."""
    found = []
    # The template's own Metadata holds the suppressions that apply to every resource.
    holders = [("template", template), *template["Resources"].items()]
    for rid, r in holders:
        metadata = r.get("Metadata", {})
        reasons = metadata.get(REASONS_KEY, {})
        for rule in metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []):
            found.append(("cfn-lint", rid, rule, reasons.get(rule, "")))
        for skip in metadata.get("checkov", {}).get("skip", []):
            found.append(("checkov", rid, skip["id"], skip.get("comment", "")))
    found += [("cfripper", f, rules, reason) for f, rules, reason in _cfripper_exceptions()]
    return found


def test_scanner_suppressions_are_few_and_each_says_why(template):
    found = suppressions(template)
    for tool, where, rule, reason in found:
        # A full sentence: enough words to say why, ending like one.
        assert len(reason.split()) >= 12 and reason.endswith("."), (tool, where, rule, reason)
    assert len(found) <= MAX_SUPPRESSIONS, found
    cfn_lint_reasons = {
        (rid, rule)
        for rid, r in [("template", template), *template["Resources"].items()]
        for rule in r.get("Metadata", {}).get(REASONS_KEY, {})
    }
    assert cfn_lint_reasons == {(w, r) for t, w, r, _ in found if t == "cfn-lint"}


def test_the_suppression_count_would_catch_a_ninth(template):
    """The cap is real: the same collection over a template with one more skip counts it."""
    extra = json.loads(json.dumps(template))
    rid = logical_id(FUNCTIONS[0].name, "function")
    extra["Resources"][rid]["Metadata"] = {
        "checkov": {"skip": [{"id": f"CKV_AWS_{n}", "comment": "x"} for n in range(9)]}
    }
    assert len(suppressions(extra)) == len(suppressions(template)) + 9


def test_every_stateful_resource_is_retained_and_encrypted_with_a_stack_key(template):
    keys = set(resources_of_type(template, "AWS::KMS::Key"))
    encryption = {
        "AWS::DynamoDB::Table": lambda p: p["SSESpecification"]["KMSMasterKeyId"],
        "AWS::S3::Bucket": lambda p: p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["KMSMasterKeyID"],
        "AWS::Logs::LogGroup": lambda p: p["KmsKeyId"],
        "AWS::SQS::Queue": lambda p: p["KmsMasterKeyId"],
    }
    stateful = {k: r for k, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES}
    assert {r["Type"] for r in stateful.values()} == STATEFUL_TYPES
    for rid, r in stateful.items():
        policies = (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
        assert policies == ("RetainExceptOnCreate", "Retain"), rid
        if r["Type"] in encryption:
            key = encryption[r["Type"]](r["Properties"])
            assert key["Fn::GetAtt"][0] in keys and key["Fn::GetAtt"][1] == "Arn", rid


@pytest.mark.parametrize(("stage", "protected"), [("dev", False), ("test", True), (PROD, True)])
def test_every_table_keeps_point_in_time_recovery_and_prod_protects_it(template, stage, protected):
    resolver = Resolver(template, _values(template, stage))
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    assert len(tables) == 2  # the items and the idempotency records
    for rid in tables:
        table = resolver.resource(rid)["Properties"]
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["SSESpecification"]["SSEType"] == "KMS"
        assert table["DeletionProtectionEnabled"] is protected, rid


def test_the_bucket_is_private_kms_encrypted_versioned_and_tls_only(template):
    bucket_id, bucket = _one(template, "AWS::S3::Bucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    _, policy = _one(template, "AWS::S3::BucketPolicy")
    assert policy["Bucket"] == {"Ref": bucket_id}
    [deny] = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": [bucket_id, "Arn"]},
        {"Fn::Sub": f"${{{bucket_id}.Arn}}/*"},
    ]


def _key_statements(template: dict) -> list[tuple[str, dict]]:
    return [
        (rid, s)
        for rid, k in resources_of_type(template, "AWS::KMS::Key").items()
        for s in k["Properties"]["KeyPolicy"]["Statement"]
    ]


def test_every_key_rotates_and_no_key_policy_has_a_star_principal_or_action(template):
    keys = resources_of_type(template, "AWS::KMS::Key")
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    for rid, s in _key_statements(template):
        principals = s["Principal"] if isinstance(s["Principal"], dict) else {"*": s["Principal"]}
        assert "*" not in principals and "*" not in json.dumps(list(principals.values())), rid
        assert not [a for a in s["Action"] if "*" in a], (rid, s["Sid"])


def test_the_account_root_administers_every_key_but_decrypts_nothing_directly(template):
    root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    for rid in resources_of_type(template, "AWS::KMS::Key"):
        statements = [s for r, s in _key_statements(template) if r == rid]
        admin = [
            s for s in statements if s["Principal"] == {"AWS": [root]} and "Condition" not in s
        ]
        assert len(admin) == 1 and "kms:PutKeyPolicy" in admin[0]["Action"], rid
        assert "kms:Decrypt" not in admin[0]["Action"], rid


def test_no_key_policy_names_a_principal_of_this_stack(template):
    """KMS refuses a key policy whose principals it cannot see yet: "The principals in the key
    policy must exist and be visible to KMS. When you create a new AWS principal, you might need
    to enforce a delay before including the new principal in a key policy"
    (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html, Policy), and
    CloudFormation's KMS handler does not retry the MalformedPolicyDocumentException. moto
    accepts any principal, so the rule is checked here: no key policy refers to a resource of
    this stack at all (the account root, services and condition patterns only)."""
    for rid, key in resources_of_type(template, "AWS::KMS::Key").items():
        assert _stack_resources_in(key["Properties"]["KeyPolicy"], template) == set(), rid


ACCOUNT = "123456789012"
PSEUDO = {"AWS::StackName": "items-api-dev", "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
          "AWS::Region": "us-west-2"}  # fmt: skip


def _matches(operator: str, key: str, expected: object, context: dict[str, str]) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    if key not in context:
        return False
    if operator == "StringEquals":
        return context[key] in values
    if operator == "ArnLike":
        return any(fnmatch.fnmatchcase(context[key], v) for v in values)
    raise AssertionError(f"this test does not evaluate {operator}")


def _key_policy_allows(policy: dict, principal: str, action: str, service: str) -> bool:
    """Whether a key policy lets `principal`, a role of this account, do `action` through
    `service`: the policy language our key policies use (account-root principal, StringEquals
    and ArnLike conditions); IAM is assumed to allow it."""
    context = {
        "kms:ViaService": f"{service}.{PSEUDO['AWS::Region']}.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
        "aws:PrincipalArn": principal,
    }
    return any(
        s["Effect"] == "Allow"
        and action in s["Action"]
        and s["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}
        and all(
            _matches(operator, key, expected, context)
            for operator, checks in s.get("Condition", {}).items()
            for key, expected in checks.items()
        )
        for s in policy["Statement"]
    )


def _role_arn(resolver: Resolver, rid: str) -> str:
    path = resolver.resolve(resolver.template["Resources"][rid]["Properties"]).get("Path", "/")
    return f"arn:aws:iam::{ACCOUNT}:role{path}{PSEUDO['AWS::StackName']}-{rid}-ABC123"


@pytest.mark.parametrize("service", ["lambda", "dynamodb", "s3", "sqs"])
def test_only_the_functions_decrypt_their_environment(template, service):
    """The functions' environment is encrypted with the data key; through Lambda only the
    function roles may decrypt it (Lambda decrypts with the caller's permissions:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html). The
    key policy names no role (see above), so it admits Lambda use by the function roles' IAM
    path (aws:PrincipalArn includes it). Through DynamoDB, S3 and SQS the account's principals
    that IAM allows may use it. moto enforces no key policy: evaluated here."""
    resolver = Resolver(template, {**_values(template, "dev"), **PSEUDO})
    policy = resolver.resource("DataKey")["Properties"]["KeyPolicy"]
    roles = resources_of_type(template, "AWS::IAM::Role")
    # The catalog's functions; the API deployment's function has no environment, and its role
    # is among the others.
    functions = [template["Resources"][logical_id(f.name, "function")] for f in FUNCTIONS]
    function_roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions}
    assert len(function_roles) == len(FUNCTIONS)
    others = [_role_arn(resolver, r) for r in roles if r not in function_roles] + [
        f"arn:aws:iam::{ACCOUNT}:role/Admin",
        f"arn:aws:iam::{ACCOUNT}:role/items-api-dev2/items-api-dev2-GetItemRole-ABC123",
        f"arn:aws:iam::{ACCOUNT}:role/items-api-dev-GetItemRole-ABC123",  # no path
    ]
    assert len(others) >= 4  # the stack's other roles are among them
    for arn in [_role_arn(resolver, r) for r in function_roles]:
        assert _key_policy_allows(policy, arn, "kms:Decrypt", service), arn
    for arn in others:
        assert _key_policy_allows(policy, arn, "kms:Decrypt", service) == (service != "lambda")
    for f in functions:
        assert f["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": ["DataKey", "Arn"]}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_every_function_role_is_granted_the_data_key_in_its_own_policy(template, spec):
    """With the key policy delegating to the account, a role may use the key only if its IAM
    policy allows it too (https://docs.aws.amazon.com/kms/latest/developerguide/
    key-policy-default.html#key-policy-default-allow-root-enable-iam)."""
    policy_id = function_policy(template, logical_id(spec.name, "function"))
    uses = [s for rid, s in policy_statements(template) if rid == policy_id
            and s.get("Sid") == "DataKey"]  # fmt: skip
    assert uses
    for use in uses:
        assert use["Resource"] == [{"Fn::GetAtt": ["DataKey", "Arn"]}]
        assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(use["Action"])
        via = use["Condition"]["StringEquals"]["kms:ViaService"]
        assert {v["Fn::Sub"].split(".")[0] for v in via} == {"lambda", "dynamodb", "s3", "sqs"}


def test_cloudwatch_logs_may_use_the_telemetry_key_for_this_stacks_groups_only(template):
    """Each group's name, as CloudFormation or API Gateway makes it, is one the key admits
    (CloudWatch Logs checks the key policy when the group is created with the key). A group
    without LogGroupName is named `<stack name>-<LogicalId>-<random>` by CloudFormation's
    AWS::Logs::LogGroup handler (CreateHandler.generateName in
    github.com/aws-cloudformation/aws-cloudformation-resource-providers-logs); API Gateway's
    is `API-Gateway-Execution-Logs_<api id>/<stage>` (https://docs.aws.amazon.com/apigateway/
    latest/developerguide/rest-api-execution-logging.html)."""
    resolver = Resolver(template, {**_values(template, "dev"), **PSEUDO})
    key_policy = resolver.resource("TelemetryKey")["Properties"]["KeyPolicy"]
    [logs] = [s for s in key_policy["Statement"] if s["Sid"] == "LogsForThisStacksGroups"]
    patterns = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    prefix = f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:"
    for rid, group in resources_of_type(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["TelemetryKey", "Arn"]}, rid
        named = resolver.resolve(group["Properties"].get("LogGroupName"))
        name = (
            f"{PSEUDO['AWS::StackName']}-{rid}-ABC123"
            if named is None
            else re.sub(r"\$\{[^}]+\}", "a1b2c3d4e5", named)
        )
        assert any(fnmatch.fnmatchcase(prefix + name, p) for p in patterns), name
    other = f"{prefix}items-api-test-GetItemLogGroup-ABC123"
    assert not any(fnmatch.fnmatchcase(other, p) for p in patterns)


def _stack_resources_in(node: object, template: dict) -> set[str]:
    return {r for r in references(node) if r in template["Resources"]}


def test_every_policy_resource_is_this_stacks_or_the_xray_exception(template):
    for rid, s in policy_statements(template):
        for resource in s["Resource"]:
            if resource == "*":
                assert all(a.startswith("xray:") for a in s["Action"]), (rid, s)
            elif rid == "ApiGatewayCloudWatchRole":  # account-wide by nature: API Gateway's role
                assert resource == {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
                }
            else:
                assert _stack_resources_in(resource, template), (rid, resource)


def test_every_lambda_permission_names_source_arn_and_account(template):
    for rid, p in resources_of_type(template, "AWS::Lambda::Permission").items():
        props = p["Properties"]
        assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}, rid
        assert _stack_resources_in(props["SourceArn"], template) == {"Api"}, rid


@pytest.mark.parametrize(("stage", "reserved"), [("dev", None), (PROD, "50")])
def test_every_function_reserves_the_stages_concurrency(template, stage, reserved):
    resolver = Resolver(template, _values(template, stage))
    for rid in (logical_id(f.name, "function") for f in FUNCTIONS):
        props = resolver.resource(rid)["Properties"]
        assert props.get("ReservedConcurrentExecutions") == reserved, rid
        assert props["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}


@pytest.mark.parametrize(
    ("subnets", "in_vpc"), [("", False), ("subnet-0123456789abcdef0", True)], ids=["out", "in"]
)
def test_functions_join_the_vpc_only_when_subnets_are_given(template, subnets, in_vpc):
    values = _values(template, "test", VpcSubnetIds=subnets, VpcSecurityGroupIds="sg-01234567")
    resolver = Resolver(template, values)
    for f in FUNCTIONS:
        fn = resolver.resource(logical_id(f.name, "function"))["Properties"]
        role = resolver.resource(logical_id(f.name, "role"))["Properties"]
        assert ("VpcConfig" in fn) is in_vpc
        assert bool(role.get("ManagedPolicyArns")) is in_vpc  # ENI rights only when needed


AUTH = {  # AuthType -> (AuthorizationType, ApiKeyRequired) of every route's method
    "NONE": ("NONE", False),
    "API_KEY": ("NONE", True),
    "AWS_IAM": ("AWS_IAM", False),
}


@pytest.mark.parametrize("auth", AUTH)
def test_auth_type_guards_every_route_and_never_the_preflight(template, auth):
    resolver = Resolver(template, _values(template, "test", AuthType=auth))
    for rid in resources_of_type(template, "AWS::ApiGateway::Method"):
        props = resolver.resource(rid)["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            assert props["AuthorizationType"] == "NONE" and not props.get("ApiKeyRequired")
        else:
            assert (props["AuthorizationType"], props["ApiKeyRequired"]) == AUTH[auth], rid
    key_parts = ["AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan",
                 "AWS::ApiGateway::UsagePlanKey"]  # fmt: skip
    made = {
        t for t in key_parts for rid in resources_of_type(template, t) if resolver.resource(rid)
    }
    assert made == (set(key_parts) if auth == "API_KEY" else set())


def test_the_usage_plan_throttles_like_the_stage_and_has_a_quota(template):
    _, plan = _one(template, "AWS::ApiGateway::UsagePlan")
    assert plan["Throttle"] == {
        "RateLimit": {"Ref": "ThrottlingRateLimit"},
        "BurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    assert plan["Quota"] == {"Limit": {"Ref": "ApiQuotaLimit"}, "Period": {"Ref": "ApiQuotaPeriod"}}


def test_the_api_key_id_is_an_output_and_its_value_never_is(template):
    key_id, _ = _one(template, "AWS::ApiGateway::ApiKey")
    outputs = template["Outputs"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": key_id}
    assert outputs["ApiKeyId"]["Condition"] == template["Resources"][key_id]["Condition"]
    others = [o for name, o in outputs.items() if name != "ApiKeyId"]
    assert key_id not in json.dumps(others)
    assert "Value" not in template["Resources"][key_id]["Properties"]  # AWS generates it


def test_post_and_put_bodies_are_checked_by_api_gateway_with_the_handlers_schema(template):
    _, validator = _one(template, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True
    model_id, model = _one(template, "AWS::ApiGateway::Model")
    schema_file = ROOT / "functions" / "shared" / "items_common" / "item_schema.json"
    schema = json.loads(model["Schema"]) if isinstance(model["Schema"], str) else model["Schema"]
    assert schema == json.loads(schema_file.read_text()) == HANDLERS_SCHEMA
    checked = {}
    for m in resources_of_type(template, "AWS::ApiGateway::Method").values():
        props = m["Properties"]
        checked[props["HttpMethod"]] = props.get("RequestModels")
    assert checked["POST"] == checked["PUT"] == {"application/json": {"Ref": model_id}}
    assert checked["GET"] is None and checked["DELETE"] is None
    [bad_body] = [
        r["Properties"]
        for r in resources_of_type(template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "BAD_REQUEST_BODY"
    ]
    assert '"code":"INVALID_ITEM"' in bad_body["ResponseTemplates"]["application/json"]


# Forbidden combinations: (stage file, change, keys the refusal names)
FORBIDDEN = [
    (PROD, {"AuthType": "NONE"}, ["AuthType", "Stage", "prod"]),
    (PROD, {"TableDeletionProtection": "false"}, ["TableDeletionProtection", "prod"]),
    ("test", {"CorsAllowOrigin": "*", "CorsAllowCredentials": "true"},
     ["CorsAllowOrigin", "CorsAllowCredentials"]),
]  # fmt: skip


@pytest.mark.parametrize(("stage", "change", "keys"), FORBIDDEN, ids=lambda x: str(x))
def test_forbidden_combinations_are_refused_by_the_build_and_by_cloudformation(
    template, tmp_path: Path, stage, change, keys
):
    values = {**json.loads((ROOT / "params" / f"{stage}.json").read_text()), **change}
    path = tmp_path / f"{stage}.json"
    path.write_text(json.dumps(values))
    with pytest.raises(stage_params.ParamsError) as refused:
        stage_params.validate(path, template)
    assert str(path) in str(refused.value)
    assert all(k in str(refused.value) for k in keys), refused.value
    # The same verdict from the template's own Rules, which CloudFormation evaluates on every
    # create and update, console edits included.
    broken = stage_params.broken_rules(template, {k: str(v) for k, v in values.items()})
    assert len(broken) == 1 and all(k in broken[0] for k in keys)


@pytest.mark.parametrize("stage", ["dev", "test", PROD])
def test_every_stage_file_passes_the_rules(template, stage):
    assert stage_params.broken_rules(template, _values(template, stage)) == []
