"""IAM: one role per function, built from small pure awacs statement builders.

No wildcard actions. Every Resource is a GetAtt/Sub of something in this stack, except X-Ray's
write actions, which AWS only grants on `*`."""

from dataclasses import dataclass

from awacs import kms, logs, sts, xray
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, If, Sub, Template, iam, s3
from troposphere import kms as kms_resources

from .catalog import FUNCTIONS, Access, FunctionSpec
from .data import ATTACHMENTS_PREFIX, AUDIT_PREFIX, RETAIN, Data
from .log_groups import LogGroups
from .naming import logical_id


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


def scoped(sid: str, actions: tuple[str, ...], arn: GetAtt) -> Statement:
    """Exactly `actions` ("dynamodb:GetItem", ...) on exactly one resource of this stack."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[Action(*a.split(":", 1)) for a in actions],
        Resource=[arn],
    )


def bucket_access(sid: str, actions: tuple[str, ...], bucket: s3.Bucket, prefix: str) -> Statement:
    """Exactly `actions` on the objects under one prefix of the bucket."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=[Action(*a.split(":", 1)) for a in actions],
        Resource=[Sub(f"${{{bucket.title}.Arn}}/{prefix}*")],
    )


def log_writing(log_group_arn: GetAtt) -> Statement:
    """Write to the function's own log group (its ARN ends in `:*`, covering its streams)."""
    return Statement(
        Sid="OwnLogGroup",
        Effect=Allow,
        Action=[logs.CreateLogStream, logs.PutLogEvents],
        Resource=[log_group_arn],
    )


def xray_writing() -> Statement:
    """X-Ray segment upload. X-Ray has no resource-level permissions: `*` is the only Resource
    AWS accepts for these two actions (the one documented exception to scoped resources)."""
    return Statement(
        Sid="XRayWrite",
        Effect=Allow,
        Action=[xray.PutTraceSegments, xray.PutTelemetryRecords],
        Resource=["*"],
    )


def function_policy(access: Access, data: Data, log_group_arn: GetAtt) -> PolicyDocument:
    statements = []
    if access.table:
        statements.append(scoped("Table", access.table, data.table.get_att("Arn")))
    if access.attachments:
        statements.append(
            bucket_access("Attachments", access.attachments, data.bucket, ATTACHMENTS_PREFIX)
        )
    if access.audit:
        statements.append(bucket_access("Audit", access.audit, data.bucket, AUDIT_PREFIX))
    if access.stream:
        statements.append(scoped("Stream", access.stream, data.table.get_att("StreamArn")))
    if access.failure_queue:
        statements.append(
            scoped("FailureQueue", access.failure_queue, data.failure_queue.get_att("Arn"))
        )
    statements += [log_writing(log_group_arn), xray_writing()]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def function_policies(spec: FunctionSpec, data: Data, log_group_arn: GetAtt) -> list:
    """The role's one inline policy; where history mode needs other actions, the policy is
    chosen by the template's HistoryMode condition."""

    def policy(access: Access) -> iam.Policy:
        return iam.Policy(
            PolicyName="least-privilege",
            PolicyDocument=function_policy(access, data, log_group_arn),
        )

    if spec.in_history_mode == spec.access:
        return [policy(spec.access)]
    return [If(data.history_mode, policy(spec.in_history_mode), policy(spec.access))]


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


def _account_administers() -> Statement:
    """The account administers a key and deployers may encrypt with it (Lambda encrypts
    environment variables with the deployer's rights); decrypting is left to each key's users."""
    administration = ["Create*", "Describe*", "Enable*", "List*", "Put*", "Update*", "Revoke*",
                      "Disable*", "Get*", "Delete*", "TagResource", "UntagResource",
                      "ScheduleKeyDeletion", "CancelKeyDeletion", "RotateKeyOnDemand"]  # fmt: skip
    return Statement(
        Sid="AccountAdministersAndEncrypts",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[Action("kms", a) for a in administration]
        + [kms.Encrypt, kms.GenerateDataKey, kms.CreateGrant],
        Resource=["*"],  # in a key policy, "*" means this key
    )


def environment_key_policy(decrypters: list[GetAtt]) -> PolicyDocument:
    """Only the function roles decrypt. They are named here, not in their own policies: that
    would make role and key refer to each other."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _account_administers(),
            Statement(
                Sid="FunctionsDecrypt",
                Effect=Allow,
                Principal=Principal("AWS", decrypters),
                Action=[kms.Decrypt],
                Resource=["*"],  # in a key policy, "*" means this key
            ),
        ],
    )


def alarm_topic_key_policy() -> PolicyDocument:
    """Only CloudWatch, for this account's alarms, may use the alarm topic's key: publishing to
    an encrypted topic needs a data key."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _account_administers(),
            Statement(
                Sid="CloudWatchPublishesAlarms",
                Effect=Allow,
                Principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                Action=[kms.Decrypt, kms.GenerateDataKey],
                Resource=["*"],  # in a key policy, "*" means this key
                Condition=Condition(StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})),
            ),
        ],
    )


@dataclass(frozen=True)
class Security:
    roles: dict[str, iam.Role]  # function name -> its own role
    key: kms_resources.Key  # encrypts the functions' environment variables
    alarm_key: kms_resources.Key  # encrypts the alarm topic


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


def add(t: Template, data: Data, log_groups: LogGroups) -> Security:
    """One role per function, holding only what its route needs; then the key they decrypt
    their environment with."""
    roles = {
        f.name: t.add_resource(
            iam.Role(
                logical_id(f.name, "role"),
                AssumeRolePolicyDocument=assumed_by("lambda"),
                Policies=function_policies(f, data, log_groups.functions[f.name].get_att("Arn")),
            )
        )
        for f in FUNCTIONS
    }
    decrypters = [r.get_att("Arn") for r in roles.values()]
    return Security(
        roles=roles,
        key=_key(t, "environment", "encrypts the functions' environment variables",
                 environment_key_policy(decrypters)),
        alarm_key=_key(t, "alarm-topic", "encrypts the alarm topic", alarm_topic_key_policy()),
    )  # fmt: skip
