"""Functions triggered by events rather than routes: the table's stream drives the audit
consumer. Batches are small and bounded in time; a failing batch is halved until the bad record
is isolated, retried a finite number of times, and then parked in the failure queue, so one
poison record never blocks the stream."""

from troposphere import Ref, Template, awslambda

from .data import Data
from .naming import logical_id
from .parameters import number

STREAM_CONSUMER = "stream_audit"

STREAM_MAX_RETRIES = number(
    "StreamMaxRetries",
    group="Stream",
    label="Stream consumer retries",
    description="Times a failing stream batch is retried (halved on each error to isolate the "
    "bad record) before it goes to the failure queue.",
    low=0,
    high=10,
    unit="retries",
    default=3,
)
STREAM_MAX_RECORD_AGE_SECONDS = number(
    "StreamMaxRecordAgeSeconds",
    group="Stream",
    label="Stream record max age (s)",
    description="Records older than this go to the failure queue instead of being retried, so "
    "one poison record cannot stall the stream for its 24 h retention.",
    low=60,
    high=86400,
    unit="seconds",
    default=3600,
)
PARAMETERS = (STREAM_MAX_RETRIES, STREAM_MAX_RECORD_AGE_SECONDS)


def add(
    t: Template, data: Data, aliases: dict[str, awslambda.Alias]
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
            MaximumRetryAttempts=STREAM_MAX_RETRIES.ref(),
            MaximumRecordAgeInSeconds=STREAM_MAX_RECORD_AGE_SECONDS.ref(),
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig=awslambda.DestinationConfig(
                OnFailure=awslambda.OnFailure(Destination=data.failure_queue.get_att("Arn"))
            ),
        )
    )
