"""IAM: one role per function, built from small pure awacs statement builders.

No wildcard actions. Every Resource is a GetAtt/Sub of something in this stack, except X-Ray's
write actions, which AWS only grants on `*`."""

from awacs import logs, sts, xray
from awacs.aws import Action, Allow, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Sub, Template, iam

from .catalog import FUNCTIONS, FunctionSpec
from .data import Data
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


def table_access(actions: tuple[str, ...], table_arn: GetAtt) -> Statement:
    """Exactly `actions` ("dynamodb:GetItem", ...) on the table itself (no index, no stream)."""
    return Statement(
        Sid="Table",
        Effect=Allow,
        Action=[Action(*a.split(":", 1)) for a in actions],
        Resource=[table_arn],
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


def function_policy(spec: FunctionSpec, data: Data, log_group_arn: GetAtt) -> PolicyDocument:
    statements = [log_writing(log_group_arn), xray_writing()]
    if spec.table_actions:
        statements.insert(0, table_access(spec.table_actions, data.table.get_att("Arn")))
    return PolicyDocument(Version="2012-10-17", Statement=statements)


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


def add(t: Template, data: Data, log_groups: LogGroups) -> dict[str, iam.Role]:
    """One role per function, holding only what its route needs."""
    return {
        f.name: t.add_resource(
            iam.Role(
                logical_id(f.name, "role"),
                AssumeRolePolicyDocument=assumed_by("lambda"),
                Policies=[
                    iam.Policy(
                        PolicyName="least-privilege",
                        PolicyDocument=function_policy(
                            f, data, log_groups.functions[f.name].get_att("Arn")
                        ),
                    )
                ],
            )
        )
        for f in FUNCTIONS
    }
