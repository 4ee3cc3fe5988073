"""The system's state: the items table and the attachments bucket. Both are retained and never
replaced by accident; the only parameters that replace the table are its key names, and their
descriptions say so."""

from dataclasses import dataclass

from troposphere import Equals, If, Not, NoValue, Ref, Template, dynamodb, s3, sqs

from .naming import logical_id
from .parameters import Params
from .suppressions import suppress

RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
HISTORY_MODE = "HistoryMode"  # condition: the table has a sort key, so writes keep versions
PROVISIONED = "ProvisionedBilling"
ATTACHMENTS_PREFIX = "items/"
AUDIT_PREFIX = "audit/"


@dataclass(frozen=True)
class Data:
    table: dynamodb.Table
    bucket: s3.Bucket
    failure_queue: sqs.Queue  # stream batches the consumer gave up on
    history_mode: str  # the condition's name, for modules that differ by mode


def _table(t: Template, params: Params) -> dynamodb.Table:
    """No TableName: a named table could not be replaced without a clash, and CloudFormation's
    name carries the stack name anyway."""
    pk, sk = Ref(params.partition_key_name), Ref(params.sort_key_name)
    return t.add_resource(
        dynamodb.Table(
            logical_id("items", "table"),
            **RETAIN,
            # Whole lists under If (not NoValue elements), which every consumer resolves alike.
            AttributeDefinitions=If(
                HISTORY_MODE,
                [
                    dynamodb.AttributeDefinition(AttributeName=pk, AttributeType="S"),
                    dynamodb.AttributeDefinition(AttributeName=sk, AttributeType="N"),
                ],
                [dynamodb.AttributeDefinition(AttributeName=pk, AttributeType="S")],
            ),
            KeySchema=If(
                HISTORY_MODE,
                [
                    dynamodb.KeySchema(AttributeName=pk, KeyType="HASH"),
                    dynamodb.KeySchema(AttributeName=sk, KeyType="RANGE"),
                ],
                [dynamodb.KeySchema(AttributeName=pk, KeyType="HASH")],
            ),
            BillingMode=Ref(params.billing_mode),
            ProvisionedThroughput=If(
                PROVISIONED,
                dynamodb.ProvisionedThroughput(
                    ReadCapacityUnits=Ref(params.table_read_capacity),
                    WriteCapacityUnits=Ref(params.table_write_capacity),
                ),
                NoValue,
            ),
            StreamSpecification=dynamodb.StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
            SSESpecification=dynamodb.SSESpecification(SSEEnabled=True),
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
        )
    )


def _bucket(t: Template) -> s3.Bucket:
    """Attachments (items/) and the stream's audit trail (audit/): private, encrypted,
    versioned; old versions and abandoned uploads expire so storage does not grow unseen."""
    return t.add_resource(
        s3.Bucket(
            logical_id("items", "bucket"),
            **RETAIN,
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        )
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-noncurrent-versions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=90
                        ),
                    ),
                    s3.LifecycleRule(
                        Id="abort-incomplete-uploads",
                        Status="Enabled",
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=7
                        ),
                    ),
                ]
            ),
        )
    )


def _failure_queue(t: Template) -> sqs.Queue:
    """Where the stream's event source mapping sends what the consumer could not process after
    its retries, for an operator to inspect and replay: kept 14 days, the SQS maximum."""
    queue = sqs.Queue(
        logical_id("stream", "failure", "queue"),
        **RETAIN,
        MessageRetentionPeriod=14 * 24 * 3600,
        SqsManagedSseEnabled=True,
    )
    suppress(
        queue,
        "ES6000",
        "This queue is itself the dead letter destination of the stream consumer; no consumer "
        "reads it automatically, so a redrive policy would only move failed records to yet "
        "another queue.",
    )
    return t.add_resource(queue)


def add(t: Template, params: Params) -> Data:
    t.add_condition(HISTORY_MODE, Not(Equals(Ref(params.sort_key_name), "")))
    t.add_condition(PROVISIONED, Equals(Ref(params.billing_mode), "PROVISIONED"))
    return Data(
        table=_table(t, params),
        bucket=_bucket(t),
        failure_queue=_failure_queue(t),
        history_mode=HISTORY_MODE,
    )
