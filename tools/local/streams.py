"""The template's DynamoDB stream event source mappings, run locally as Lambda runs them.

Read from the template (AWS::Lambda::EventSourceMapping on a table's StreamArn): the function
(an alias the mapping names is followed to its function), BatchSize, MaximumRetryAttempts,
BisectBatchOnFunctionError, FunctionResponseTypes and the on-failure destination. A
StreamPoller thread per mapping reads the stream (moto's dynamodbstreams) from the mapping's
StartingPosition and invokes the function in order:

- success: the batch is done;
- a partial batch response (ReportBatchItemFailures): the records before the lowest failed
  sequence number are done, the rest is retried (as Lambda checkpoints);
- the function raises: the batch is retried, halved first when BisectBatchOnFunctionError;
- after MaximumRetryAttempts retries (-1: forever), the batch's description goes to the
  on-failure queue, as Lambda sends it (the records stay in the stream), and the poller moves on.

Not emulated: MaximumBatchingWindowInSeconds (a batch is what one poll finds),
MaximumRecordAgeInSeconds, parallelization, tumbling windows, filters.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tools.intrinsics import Evaluator, target, text

from .routes import invoked_function

MAPPING = "AWS::Lambda::EventSourceMapping"
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class StreamMapping:
    """One mapping, its references resolved to the local stack."""

    function_id: str  # the function's logical ID
    table_id: str  # the table's logical ID
    batch_size: int
    max_retries: int  # -1: until the records expire (here: forever)
    bisect: bool
    partial_batches: bool  # ReportBatchItemFailures
    starting_position: str  # TRIM_HORIZON | LATEST
    on_failure: str | None  # the destination's logical ID


def _target(node: Any) -> str:
    """The logical ID a Ref or Fn::GetAtt names."""
    named = target(node)
    if named is None:
        raise ValueError(f"expected a Ref or Fn::GetAtt, got {node!r}")
    return named.name


def _function(template: dict[str, Any], node: Any) -> str:
    """The function a mapping's FunctionName invokes: the function, or the one its alias names."""
    function = invoked_function(template, _target(node))
    if function is None:
        raise ValueError(f"FunctionName {node!r} names no function of the template")
    return function


def read_mappings(template: dict[str, Any], parameters: dict[str, str]) -> list[StreamMapping]:
    """The template's stream mappings (those on a table's StreamArn), in logical ID order."""
    ev = Evaluator(template, parameters)
    mappings = []
    for _, resource in sorted(template["Resources"].items()):
        props = resource.get("Properties", {})
        source = target(props.get("EventSourceArn"))
        if resource["Type"] != MAPPING or source is None or source.attribute != "StreamArn":
            continue
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        mappings.append(
            StreamMapping(
                function_id=_function(template, props["FunctionName"]),
                table_id=source.name,
                batch_size=int(ev.resolve(props.get("BatchSize", 100))),
                max_retries=int(ev.resolve(props.get("MaximumRetryAttempts", -1))),
                bisect=text(ev.resolve(props.get("BisectBatchOnFunctionError", False)))
                .lower()
                .startswith("t"),
                partial_batches="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
                on_failure=_target(destination) if destination else None,
            )
        )
    return mappings


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to the function: eventSourceARN added, the
    creation time in epoch seconds (boto3 parsed it into a datetime)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.replace(tzinfo=UTC).timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamPoller(threading.Thread):
    """Reads one table's stream and invokes one function with its batches (module docstring).
    `invoke(function_id, event)` returns the function's result or raises."""

    def __init__(
        self,
        mapping: StreamMapping,
        stream_arn: str,
        invoke: Callable[[str, dict[str, Any]], Any],
        streams: Any,  # boto3 dynamodbstreams client
        sqs: Any,  # boto3 sqs client
        queue_url: str | None,
        log: Callable[[str], None] = print,
        starting_position: str | None = None,  # overrides the mapping's
    ) -> None:
        super().__init__(name=f"stream-{mapping.function_id}", daemon=True)
        self.mapping, self.stream_arn, self.invoke = mapping, stream_arn, invoke
        self.streams, self.sqs, self.queue_url, self.log = streams, sqs, queue_url, log
        self.pending: list[dict[str, Any]] = []
        self.delivered = 0  # records finished (delivered or given up), for the console
        self._stop_event = threading.Event()
        self._iterators: dict[str, str | None] = {}
        self._starting_position = starting_position or mapping.starting_position
        self._retries = 0  # of the batch at the head of `pending`
        self._batch_size = mapping.batch_size  # smaller while bisecting a failing batch
        self._failing = 0  # records left of the batch that failed (0: none is failing)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll()
            except Exception as error:  # keep polling; say why this round failed
                self.log(f"stream {self.mapping.function_id}: {type(error).__name__}: {error}")
            self._stop_event.wait(POLL_SECONDS)

    def poll(self) -> None:
        """One round: read what is new, then deliver the pending records in batches until one
        fails (its retry waits for the next round, as Lambda backs off). While a failed batch
        is being bisected, its records go in the smaller batches until all of them are done."""
        self._read()
        while self.pending and not self._stop_event.is_set():
            size = min(self._batch_size, self._failing or self._batch_size)
            batch = self.pending[:size]
            failed_at = self._deliver(batch)
            done = len(batch) if failed_at is None else failed_at
            self._done(done)
            if failed_at is None:
                self._retries = 0
                continue
            self._failing = self._failing or len(batch)
            self._retries += 1
            if 0 <= self.mapping.max_retries < self._retries:
                rest = len(batch) - failed_at
                self._give_up(self.pending[:rest])
                self._done(rest)
                self._retries = 0
            elif self.mapping.bisect and failed_at == 0 and len(batch) > 1:
                self._batch_size = max(1, len(batch) // 2)
            return

    def _done(self, count: int) -> None:
        """The first `count` pending records are finished (delivered or given up)."""
        del self.pending[:count]
        self.delivered += count
        if self._failing:
            self._failing = max(0, self._failing - count)
            if not self._failing:
                self._batch_size = self.mapping.batch_size

    def _read(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in shards.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self._starting_position,
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            while iterator:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = answer.get("Records", [])
                self.pending += [lambda_record(r, self.stream_arn) for r in records]
                iterator = answer.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                if not records:
                    break

    def _deliver(self, batch: list[dict[str, Any]]) -> int | None:
        """None when the whole batch is done; else the index of the first record to retry."""
        try:
            result = self.invoke(self.mapping.function_id, {"Records": batch})
        except Exception as error:
            self.log(f"stream {self.mapping.function_id}: batch of {len(batch)} failed: {error}")
            return 0
        failures = (result or {}).get("batchItemFailures") or []
        if not self.mapping.partial_batches or not failures:
            return None
        failed = {f.get("itemIdentifier") for f in failures}
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        index = next((i for i, s in enumerate(sequence) if s in failed), None)
        if index is None:  # an identifier not in the batch: Lambda retries the whole batch
            return 0
        self.log(f"stream {self.mapping.function_id}: {len(failed)} of {len(batch)} failed")
        return index

    def _give_up(self, batch: list[dict[str, Any]]) -> None:
        """Send the batch's description to the on-failure queue, as Lambda does (the records
        themselves stay in the stream)."""
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        self.log(f"stream {self.mapping.function_id}: {len(batch)} records to the failure queue")
        if not self.queue_url:
            return
        message = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.mapping.max_retries + 1,
            },
            "responseContext": {"functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))
