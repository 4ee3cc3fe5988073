"""Identities and keys: one role per function, and the two customer-managed keys.

No key policy names a role of this stack. KMS refuses a key policy whose principal it cannot
see yet (MalformedPolicyDocumentException), IAM roles take a while to become visible, and
CloudFormation's KMS handler does not retry: naming a role created seconds earlier fails a
fresh stack at random. So the key policies delegate to the account (its root, with
kms:CallerAccount and kms:ViaService conditions) and each function role's own IAM policy grants
its KMS actions (permissions.py).

- data key: the functions' environment, the table (and its stream), the bucket, the failure
  queue. Through Lambda (the environment), only principals whose ARN is under the function
  roles' path (`/<stack name>/`, which only the function roles use) may use it: only the
  functions read their environment. Through DynamoDB, S3 and SQS, the account's principals
  that IAM allows may use it.
- telemetry key: the log groups (CloudWatch Logs, for this stack's groups only) and the alarm
  topic (CloudWatch, for this account's alarms only).
Neither key has a `*` principal; the account root administers both."""

from dataclasses import dataclass

from awacs import kms, logs, sts
from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import If, NoValue, Sub, Template, iam
from troposphere import kms as kms_resources

from .catalog import FUNCTIONS
from .data import RETAIN
from .naming import logical_id
from .network import IN_VPC
from .waf import WAF_LOG_PREFIX

# The account administers the keys: every key-management action, spelled out (no wildcard).
KEY_ADMINISTRATION = ("CancelKeyDeletion", "CreateAlias", "DeleteAlias", "DescribeKey",
                      "DisableKey", "DisableKeyRotation", "EnableKey", "EnableKeyRotation",
                      "GetKeyPolicy", "GetKeyRotationStatus", "ListAliases", "ListGrants",
                      "ListKeyPolicies", "ListKeyRotations", "ListResourceTags", "PutKeyPolicy",
                      "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "TagResource",
                      "UntagResource", "UpdateAlias", "UpdateKeyDescription")  # fmt: skip
# What a service needs to encrypt and decrypt data for its caller.
DATA_ACTIONS = (kms.Decrypt, kms.Encrypt, kms.GenerateDataKey, kms.DescribeKey)
# Services the function roles may use the data key through.
FUNCTION_SERVICES = ("lambda", "dynamodb", "s3", "sqs")
# Services the account's principals may use it through: not Lambda, whose environment only the
# functions read.
ACCOUNT_SERVICES = ("dynamodb", "s3", "sqs")
# The IAM path of every function role, and only of them: the data key admits Lambda use by
# principals under it (aws:PrincipalArn is the role's ARN, path included).
FUNCTION_ROLE_PATH = "/${AWS::StackName}/"
# The managed policy AWS maintains for a function's network interfaces in a VPC. EC2 grants
# ec2:DescribeNetworkInterfaces only on `*`: the second documented exception to scoped resources,
# and attached only while VpcSubnetIds is set.
VPC_ACCESS_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
)


def assumed_by(service: str) -> PolicyDocument:
    """Trust policy: only `service` may assume the role."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", [f"{service}.amazonaws.com"]),
                Action=[sts.AssumeRole],
            )
        ],
    )


def api_gateway_logging_policy() -> PolicyDocument:
    """What API Gateway's account-wide role needs to write any API's logs in this account and
    region (the managed policy AmazonAPIGatewayPushToCloudWatchLogs, scoped to them)."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ApiGatewayLogs",
                Effect=Allow,
                Action=[
                    logs.CreateLogGroup,
                    logs.CreateLogStream,
                    logs.DescribeLogGroups,
                    logs.DescribeLogStreams,
                    logs.PutLogEvents,
                    logs.GetLogEvents,
                    logs.FilterLogEvents,
                ],
                Resource=[Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*")],
            )
        ],
    )


def via(services: tuple[str, ...]) -> list[Sub]:
    """kms:ViaService values: the services' endpoints in this region."""
    return [Sub(f"{s}.${{AWS::Region}}.amazonaws.com") for s in services]


def _key_statement(sid: str, principal: Principal, actions, condition=None) -> Statement:
    """One key policy statement. In a key policy, Resource `*` means this key."""
    extra = {"Condition": Condition(condition)} if condition else {}
    return Statement(
        Sid=sid, Effect=Allow, Principal=principal, Action=list(actions), Resource=["*"], **extra
    )


def _account() -> Principal:
    return Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")])


def _administered() -> Statement:
    """The account administers the key (through IAM); deployers may encrypt with it and let
    services hold grants on it (Lambda and DynamoDB need both when CloudFormation creates the
    function and the table). Nobody decrypts through this statement."""
    return _key_statement(
        "AccountAdministers",
        _account(),
        [Action("kms", a) for a in KEY_ADMINISTRATION]
        + [kms.Encrypt, kms.GenerateDataKey, kms.CreateGrant],
    )


def _through(services: tuple[str, ...]) -> StringEquals:
    return StringEquals(
        {"kms:ViaService": via(services), "kms:CallerAccount": Sub("${AWS::AccountId}")}
    )


def data_key_policy() -> PolicyDocument:
    function_roles = Sub(
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{FUNCTION_ROLE_PATH}*"
    )
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _administered(),
            _key_statement(
                "FunctionEnvironmentsThroughLambda",
                _account(),
                DATA_ACTIONS,
                [_through(("lambda",)), ArnLike({"aws:PrincipalArn": function_roles})],
            ),
            _key_statement(
                "AccountThroughDataServices",
                _account(),
                (*DATA_ACTIONS, kms.CreateGrant),
                _through(ACCOUNT_SERVICES),
            ),
        ],
    )


def telemetry_key_policy() -> PolicyDocument:
    logs_service = Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")])
    log_group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _administered(),
            _key_statement(
                "LogsForThisStacksGroups",
                logs_service,
                (
                    *DATA_ACTIONS,
                    kms.ReEncryptFrom,
                    kms.ReEncryptTo,
                    kms.GenerateDataKeyWithoutPlaintext,
                ),
                ArnLike(
                    {
                        "kms:EncryptionContext:aws:logs:arn": [
                            # CloudFormation names the stack's groups `<stack>-<id>-<random>`.
                            Sub(f"{log_group}${{AWS::StackName}}-*"),
                            # API Gateway names the execution group; its API id is not known
                            # when the key is made (the key comes first).
                            Sub(f"{log_group}API-Gateway-Execution-Logs_*/${{Stage}}"),
                            # WAF's group must be named aws-waf-logs-... (templates/waf.py).
                            Sub(f"{log_group}{WAF_LOG_PREFIX}${{AWS::StackName}}-*"),
                        ]
                    }
                ),
            ),
            # Publishing to an encrypted topic needs a data key; only this account's alarms.
            _key_statement(
                "CloudWatchPublishesAlarms",
                Principal("Service", ["cloudwatch.amazonaws.com"]),
                (kms.Decrypt, kms.GenerateDataKey),
                StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")}),
            ),
        ],
    )


@dataclass(frozen=True)
class Security:
    roles: dict[str, iam.Role]  # function name -> its own role (permissions.py fills it)
    data_key: kms_resources.Key
    telemetry_key: kms_resources.Key


def _key(t: Template, name: str, purpose: str, policy: PolicyDocument) -> kms_resources.Key:
    """A customer-managed key with rotation, retained, and its alias `<stack>/<name>`."""
    key = t.add_resource(
        kms_resources.Key(
            logical_id(name, "key"),
            **RETAIN,
            Description=Sub(f"${{AWS::StackName}}: {purpose}"),
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=policy,
        )
    )
    t.add_resource(
        kms_resources.Alias(
            logical_id(name, "key", "alias"),
            AliasName=Sub(f"alias/${{AWS::StackName}}/{name}"),
            TargetKeyId=key.ref(),
        )
    )
    return key


def add(t: Template) -> Security:
    roles = {
        f.name: t.add_resource(
            iam.Role(
                logical_id(f.name, "role"),
                Path=Sub(FUNCTION_ROLE_PATH),
                AssumeRolePolicyDocument=assumed_by("lambda"),
                ManagedPolicyArns=If(IN_VPC, [Sub(VPC_ACCESS_POLICY)], NoValue),
            )
        )
        for f in FUNCTIONS
    }
    return Security(
        roles=roles,
        data_key=_key(t, "data", "encrypts the table, bucket, failure queue and the functions' "
                      "environment", data_key_policy()),
        telemetry_key=_key(t, "telemetry", "encrypts the log groups and the alarm topic",
                           telemetry_key_policy()),
    )  # fmt: skip
