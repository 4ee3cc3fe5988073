"""What each function may do: one policy per role, from small pure awacs statement builders.

No wildcard actions. Every Resource is a GetAtt/Sub of something in this stack, except X-Ray's
write actions, which AWS only grants on `*`. The data key's policy names no role (see
security.py): each role's use of the key is granted here, and the key policy only admits it
through the services that encrypt for the functions. The policies are resources of their own,
attached after the table, bucket and queue exist (see security.py for why); each function waits
for its policy, so it never runs without its permissions."""

from awacs import logs, xray
from awacs.aws import Action, Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import GetAtt, If, Sub, Template, iam, kms, s3

from .catalog import FUNCTIONS, Access, FunctionSpec
from .data import ATTACHMENTS_PREFIX, AUDIT_PREFIX, Data
from .log_groups import LogGroups
from .naming import logical_id
from .security import DATA_ACTIONS, FUNCTION_SERVICES, Security, via

POLICY_NAME = "least-privilege"
# Every function's asynchronous invocations that fail end up in the failure queue.
DEAD_LETTER = ("sqs:SendMessage",)


def _actions(actions: tuple[str, ...]) -> list[Action]:
    return [Action(*a.split(":", 1)) for a in actions]


def scoped(sid: str, actions: tuple[str, ...], arn: GetAtt) -> Statement:
    """Exactly `actions` ("dynamodb:GetItem", ...) on exactly one resource of this stack."""
    return Statement(Sid=sid, Effect=Allow, Action=_actions(actions), Resource=[arn])


def bucket_access(sid: str, actions: tuple[str, ...], bucket: s3.Bucket, prefix: str) -> Statement:
    """Exactly `actions` on the objects under one prefix of the bucket."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Action=_actions(actions),
        Resource=[Sub(f"${{{bucket.title}.Arn}}/{prefix}*")],
    )


def log_writing(group: GetAtt) -> Statement:
    """Write to the function's own log group and its streams (the group's Arn ends in `:*`)."""
    return Statement(
        Sid="OwnLogGroup",
        Effect=Allow,
        Action=[logs.CreateLogStream, logs.PutLogEvents],
        Resource=[group],
    )


def key_use(key: kms.Key) -> Statement:
    """Use the data key only through the services that encrypt for the function: Lambda (its
    environment), DynamoDB, S3 and SQS."""
    return Statement(
        Sid="DataKey",
        Effect=Allow,
        Action=list(DATA_ACTIONS),
        Resource=[key.get_att("Arn")],
        Condition=Condition(StringEquals({"kms:ViaService": via(FUNCTION_SERVICES)})),
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


def function_policy(access: Access, data: Data, log_group: GetAtt, key: kms.Key) -> PolicyDocument:
    statements = []
    if access.table:
        statements.append(scoped("Table", access.table, data.table.get_att("Arn")))
    if access.attachments:
        statements.append(
            bucket_access("Attachments", access.attachments, data.bucket, ATTACHMENTS_PREFIX)
        )
    if access.audit:
        statements.append(bucket_access("Audit", access.audit, data.bucket, AUDIT_PREFIX))
    if access.idempotency:
        statements.append(
            scoped("Idempotency", access.idempotency, data.idempotency_table.get_att("Arn"))
        )
    if access.stream:
        statements.append(scoped("Stream", access.stream, data.table.get_att("StreamArn")))
    failure_queue = tuple(sorted({*access.failure_queue, *DEAD_LETTER}))
    statements += [
        scoped("FailureQueue", failure_queue, data.failure_queue.get_att("Arn")),
        key_use(key),
        log_writing(log_group),
        xray_writing(),
    ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _document(spec: FunctionSpec, data: Data, log_group: GetAtt, key: kms.Key):
    """Where history mode needs other actions, the template's HistoryMode condition chooses."""
    plain = function_policy(spec.access, data, log_group, key)
    if spec.in_history_mode == spec.access:
        return plain
    history = function_policy(spec.in_history_mode, data, log_group, key)
    return If(data.history_mode, history, plain)


def add(
    t: Template, data: Data, security: Security, log_groups: LogGroups
) -> dict[str, iam.PolicyType]:
    """Function name -> the policy its function must wait for (DependsOn)."""
    return {
        f.name: t.add_resource(
            iam.PolicyType(
                logical_id(f.name, "policy"),
                PolicyName=POLICY_NAME,
                Roles=[security.roles[f.name].ref()],
                PolicyDocument=_document(
                    f, data, log_groups.functions[f.name].get_att("Arn"), security.data_key
                ),
            )
        )
        for f in FUNCTIONS
    }
