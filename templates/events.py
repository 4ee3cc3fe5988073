"""Functions triggered by events rather than routes: the table's stream drives the audit
consumer. Batches are small and bounded in time; a failing batch is halved until the bad record
is isolated, retried a finite number of times, and then parked in the failure queue, so one
poison record never blocks the stream."""

from troposphere import Ref, Template, awslambda

from .data import Data
from .functions import Functions
from .naming import logical_id
from .parameters import Params

STREAM_CONSUMER = "stream_audit"


def add(
    t: Template, params: Params, data: Data, functions: Functions
) -> awslambda.EventSourceMapping:
    return t.add_resource(
        awslambda.EventSourceMapping(
            logical_id(STREAM_CONSUMER, "stream", "mapping"),
            EventSourceArn=data.table.get_att("StreamArn"),
            FunctionName=Ref(functions.by_name[STREAM_CONSUMER]),
            StartingPosition="TRIM_HORIZON",
            BatchSize=10,
            MaximumBatchingWindowInSeconds=5,
            BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=Ref(params.stream_max_retries),
            MaximumRecordAgeInSeconds=Ref(params.stream_max_record_age_seconds),
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig=awslambda.DestinationConfig(
                OnFailure=awslambda.OnFailure(Destination=data.failure_queue.get_att("Arn"))
            ),
        )
    )
