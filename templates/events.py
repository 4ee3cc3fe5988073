"""Functions triggered by events rather than routes: the table's stream drives the audit
consumer. Batches are small and bounded in time; a failing batch is halved until the bad record
is isolated, retried a finite number of times, and then parked in the failure queue, so one
poison record never blocks the stream."""

from troposphere import Ref, Template, awslambda

from .data import Data
from .naming import logical_id
from .parameters import Params

STREAM_CONSUMER = "stream_audit"


def add(
    t: Template, params: Params, data: Data, aliases: dict[str, awslambda.Alias]
) -> awslambda.EventSourceMapping:
    """The mapping invokes the consumer's `live` alias, so new code reaches the stream as
    CodeDeploy shifts it."""
    return t.add_resource(
        awslambda.EventSourceMapping(
            logical_id(STREAM_CONSUMER, "stream", "mapping"),
            EventSourceArn=data.table.get_att("StreamArn"),
            FunctionName=Ref(aliases[STREAM_CONSUMER]),
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
