"""The items table: the system's state, so it is retained and never replaced by accident."""

from dataclasses import dataclass

from troposphere import Ref, Template, dynamodb

from .naming import logical_id
from .parameters import Params

PARTITION_KEY = "id"
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


@dataclass(frozen=True)
class Data:
    table: dynamodb.Table


def add(t: Template, params: Params) -> Data:
    """Add the table. No TableName: a named table could not be replaced without a clash, and
    CloudFormation's name carries the stack name anyway."""
    table = t.add_resource(
        dynamodb.Table(
            logical_id("items", "table"),
            **RETAIN,
            AttributeDefinitions=[
                dynamodb.AttributeDefinition(AttributeName=PARTITION_KEY, AttributeType="S")
            ],
            KeySchema=[dynamodb.KeySchema(AttributeName=PARTITION_KEY, KeyType="HASH")],
            BillingMode="PROVISIONED",
            ProvisionedThroughput=dynamodb.ProvisionedThroughput(
                ReadCapacityUnits=Ref(params.table_read_capacity),
                WriteCapacityUnits=Ref(params.table_write_capacity),
            ),
            StreamSpecification=dynamodb.StreamSpecification(StreamViewType="NEW_AND_OLD_IMAGES"),
            SSESpecification=dynamodb.SSESpecification(SSEEnabled=True),
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True
            ),
        )
    )
    return Data(table=table)
