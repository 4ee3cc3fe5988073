"""The system's state: the items table, the attachments bucket and the failure queue. All are
retained, encrypted with the stack's data key, and never replaced by accident; the only
parameters that replace the table are its key names, and their descriptions say so."""

from dataclasses import dataclass

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import (
    Equals,
    If,
    Not,
    NoValue,
    Ref,
    Sub,
    Template,
    dynamodb,
    kms,
    s3,
    sqs,
)

from .naming import logical_id
from .parameters import BOOLEAN, Param, choice, number, refuse
from .stage import STAGE
from .suppressions import suppress

# Stateful resources (data, keys, logs): an update or a stack delete keeps them, but a failed
# first create deletes what it made, so the retry starts clean (a retained leftover would hold
# no data yet, and a named one would block the next create). UpdateReplacePolicy has no such
# variant: a replacement always keeps the old resource.
RETAIN = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
# Account-level settings other stacks rely on (the API Gateway logging role): kept even when
# the create that made them fails, since the account setting may already point at them.
RETAIN_ALWAYS = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
HISTORY_MODE = "HistoryMode"  # condition: the table has a sort key, so writes keep versions
PROVISIONED = "ProvisionedBilling"
DELETION_PROTECTED = "TableDeletionProtected"
PROD_KEEPS_TABLE = "ProdTableDeletionProtection"  # rule
ATTACHMENTS_PREFIX = "items/"
AUDIT_PREFIX = "audit/"
# An attachment no committed row references yet carries this tag (items_common.attachments
# TAG_KEY=PENDING: the layer is not importable here, a test holds the two equal). The stream
# consumer removes it once the row is in the table (items_common.upkeep).
PENDING_TAG = ("attachment", "pending")
# Days after which a current version still tagged pending expires (then the noncurrent rule
# removes it after NONCURRENT_DAYS): the object of a write that failed or was refused. Longer
# than the stream's 24 h retention (a record is committed within it, or parked in the failure
# queue with the alarms firing) plus a week-end for an operator to react: sooner, and a commit
# delayed by an incident would expire a live item's attachment; later only keeps orphans longer.
PENDING_DAYS = 7
NONCURRENT_DAYS = 90

# What the key names' descriptions say of a change.
_REPLACES = (
    "CHANGING IT REPLACES THE TABLE: a new, empty table takes over and the old one is retained "
    "(never deleted). Set it before the first deploy."
)
PARTITION_KEY_NAME = Param(
    "PartitionKeyName",
    group="Table",
    label="Partition key attribute",
    description=f"Name of the table's partition key (type String). {_REPLACES}",
    default="id",
    pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$",
    constraint="must be an attribute name: a letter or _ then up to 254 letters, digits, _ . or -.",
)
SORT_KEY_NAME = Param(
    "SortKeyName",
    group="Table",
    label="Sort key attribute (history mode)",
    description="Empty: one row per item. A name (e.g. timestamp): history mode, a Number sort "
    "key holding each version's time; updates add versions, deletes write tombstones. " + _REPLACES,
    default="",
    pattern=r"^([A-Za-z_][A-Za-z0-9_.-]{0,254})?$",
    constraint="must be empty or an attribute name: a letter or _ then up to 254 letters, "
    "digits, _ . or -.",
)
BILLING_MODE = choice(
    "BillingMode",
    group="Table",
    label="Billing mode",
    description="PROVISIONED uses the read/write capacity below; PAY_PER_REQUEST (on-demand) "
    "ignores them. Switching is an in-place update (AWS allows one switch per 24 h).",
    allowed=("PROVISIONED", "PAY_PER_REQUEST"),
    default="PROVISIONED",
)


def _capacity(kind: str) -> Param:
    """The PROVISIONED table's read or write capacity units."""
    return number(
        f"Table{kind.title()}Capacity",
        group="Table",
        label=f"{kind.title()} capacity units",
        description=f"{kind.title()} capacity units when BillingMode is PROVISIONED. Changing it "
        "never replaces the table.",
        low=1,
        high=40000,
        unit=f"{kind} capacity units",
    )


TABLE_READ_CAPACITY = _capacity("read")
TABLE_WRITE_CAPACITY = _capacity("write")
TABLE_DELETION_PROTECTION = choice(
    "TableDeletionProtection",
    group="Table",
    label="Table deletion protection",
    description="true: DynamoDB refuses to delete the table, whoever asks. Always true in prod "
    "(the stack refuses false there). The table is retained on stack deletion either way.",
    allowed=BOOLEAN,
    default="true",
)
PARAMETERS = (
    PARTITION_KEY_NAME,
    SORT_KEY_NAME,
    BILLING_MODE,
    TABLE_READ_CAPACITY,
    TABLE_WRITE_CAPACITY,
    TABLE_DELETION_PROTECTION,
)


@dataclass(frozen=True)
class Data:
    table: dynamodb.Table
    bucket: s3.Bucket
    failure_queue: sqs.Queue  # stream batches and async events the functions gave up on
    idempotency_table: dynamodb.Table  # one record per POST Idempotency-Key, expiring (TTL)
    history_mode: str  # the condition's name, for modules that differ by mode


def _table(t: Template, key: kms.Key) -> dynamodb.Table:
    """No TableName: a named table could not be replaced without a clash, and CloudFormation's
    name carries the stack name anyway."""
    pk, sk = PARTITION_KEY_NAME.ref(), SORT_KEY_NAME.ref()
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
            BillingMode=BILLING_MODE.ref(),
            ProvisionedThroughput=If(
                PROVISIONED,
                dynamodb.ProvisionedThroughput(
                    ReadCapacityUnits=TABLE_READ_CAPACITY.ref(),
                    WriteCapacityUnits=TABLE_WRITE_CAPACITY.ref(),
                ),
                NoValue,
            ),
            StreamSpecification=dynamodb.StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
            SSESpecification=dynamodb.SSESpecification(
                SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key.get_att("Arn")
            ),
            DeletionProtectionEnabled=If(DELETION_PROTECTED, True, False),
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
        )
    )


IDEMPOTENCY_KEY = "id"  # Powertools' DynamoDBPersistenceLayer defaults
IDEMPOTENCY_EXPIRY = "expiration"


def _idempotency_table(t: Template, key: kms.Key) -> dynamodb.Table:
    """Powertools idempotency records of POST /items (Idempotency-Key): a table of their own, so
    a listing's Scan of the items table never meets them. DynamoDB deletes a record after its
    expiry (TTL); on-demand, since its traffic follows the writes."""
    return t.add_resource(
        dynamodb.Table(
            logical_id("idempotency", "table"),
            **RETAIN,
            AttributeDefinitions=[
                dynamodb.AttributeDefinition(AttributeName=IDEMPOTENCY_KEY, AttributeType="S")
            ],
            KeySchema=[dynamodb.KeySchema(AttributeName=IDEMPOTENCY_KEY, KeyType="HASH")],
            BillingMode="PAY_PER_REQUEST",
            TimeToLiveSpecification=dynamodb.TimeToLiveSpecification(
                AttributeName=IDEMPOTENCY_EXPIRY, Enabled=True
            ),
            SSESpecification=dynamodb.SSESpecification(
                SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key.get_att("Arn")
            ),
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
            DeletionProtectionEnabled=If(DELETION_PROTECTED, True, False),
        )
    )


def _bucket(t: Template, key: kms.Key) -> s3.Bucket:
    """Attachments (items/) and the stream's audit trail (audit/): private, encrypted with the
    data key, versioned; old versions, attachments never committed (items_common.attachments),
    the delete markers left alone and abandoned uploads expire so storage does not grow
    unseen."""
    bucket = suppress(
        s3.Bucket(
            logical_id("items", "bucket"),
            **RETAIN,
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=key.get_att("Arn")
                        ),
                        BucketKeyEnabled=True,  # one data key per object batch: fewer KMS calls
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
                            NoncurrentDays=NONCURRENT_DAYS
                        ),
                        # A delete marker whose versions are all gone (a deleted attachment's).
                        ExpiredObjectDeleteMarker=True,
                    ),
                    s3.LifecycleRule(
                        Id="expire-uncommitted-attachments",
                        Status="Enabled",
                        Prefix=ATTACHMENTS_PREFIX,
                        TagFilters=[s3.TagFilter(Key=PENDING_TAG[0], Value=PENDING_TAG[1])],
                        ExpirationInDays=PENDING_DAYS,
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
        ),
        "CKV_AWS_18",
        "Server access logs need a second bucket that cannot itself be logged; every request to "
        "this bucket is made by the stack's functions, whose one-line request logs name the item, "
        "and CloudTrail data events can be enabled account-wide where an audit requires them.",
    )
    t.add_resource(bucket)
    t.add_resource(
        s3.BucketPolicy(
            logical_id("items", "bucket", "policy"),
            Bucket=Ref(bucket),
            PolicyDocument=tls_only(bucket),
        )
    )
    return bucket


def tls_only(bucket: s3.Bucket) -> PolicyDocument:
    """Refuse any request to the bucket or its objects that does not use TLS."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[s3_actions.Action("*")],
                Resource=[bucket.get_att("Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
                Condition=Condition(Bool({"aws:SecureTransport": "false"})),
            )
        ],
    )


def _failure_queue(t: Template, key: kms.Key) -> sqs.Queue:
    """Where what the functions gave up on goes, for an operator to inspect and replay: stream
    batches the consumer could not process after its retries, and asynchronous invocations that
    failed (every function's dead letter queue). Kept 14 days, the SQS maximum."""
    queue = sqs.Queue(
        logical_id("failure", "queue"),
        **RETAIN,
        MessageRetentionPeriod=14 * 24 * 3600,
        KmsMasterKeyId=key.get_att("Arn"),
        KmsDataKeyReusePeriodSeconds=300,
    )
    suppress(
        queue,
        "ES6000",
        "This queue is itself the dead letter destination of the functions and the stream "
        "consumer; no consumer reads it automatically, so a redrive policy would only move "
        "failed records to yet another queue.",
    )
    return t.add_resource(queue)


def add(t: Template, key: kms.Key) -> Data:
    t.add_condition(HISTORY_MODE, Not(Equals(SORT_KEY_NAME.ref(), "")))
    t.add_condition(PROVISIONED, Equals(BILLING_MODE.ref(), "PROVISIONED"))
    t.add_condition(DELETION_PROTECTED, Equals(TABLE_DELETION_PROTECTION.ref(), "true"))
    refuse(
        t,
        PROD_KEEPS_TABLE,
        (STAGE, "prod"),
        (TABLE_DELETION_PROTECTION, "false"),
        why="TableDeletionProtection must be true when Stage is prod: the production table must "
        "never be deletable by one API call.",
    )
    return Data(
        table=_table(t, key),
        bucket=_bucket(t, key),
        failure_queue=_failure_queue(t, key),
        idempotency_table=_idempotency_table(t, key),
        history_mode=HISTORY_MODE,
    )
