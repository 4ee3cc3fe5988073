"""The table's DynamoDB stream -> one audit object per record in the bucket (items_common.audit
documents the shape and key), then the record's attachment upkeep (items_common.upkeep: commit
the object a row newly references; in plain mode, delete the one it no longer does). No route:
an event source mapping invokes it with batches.

Powertools' BatchProcessor gives a partial batch response (ReportBatchItemFailures): a record
that raises (its audit object or its upkeep) is reported by its sequence number and the others
are handled; Lambda then retries from the first failure, which is harmless since handling a
record again writes the same object and repeats idempotent S3 calls. A batch in which every
record fails raises (BatchProcessingError), so Lambda retries it whole. After the mapping's
retries the batch's description goes to the failure queue; an attachment left uncommitted then
expires after the pending days (items_common.attachments: the alarms fire long before).

Each batch logs one INFO line, "batch": its records, how many failed (absent when all did and the
batch raised), its duration and its AWS calls as the API's request line has them (dynamodb_ms,
dynamodb_calls, s3_ms, s3_calls; items_common.observability).
"""

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from items_common import audit, observability, upkeep

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def audit_record(record: DynamoDBRecord) -> None:
    """Write one record's audit object, then do its attachment upkeep; log a failure (with its
    traceback) before the batch reports it, so the operator sees why."""
    event_id = record.raw_event.get("eventID")
    try:
        audit.write(record.raw_event)
    except Exception:
        logger.exception("audit record failed", extra={"event_id": event_id})
        raise
    try:
        upkeep.keep(audit.entry(record.raw_event))
    except Exception:
        logger.exception("attachment upkeep failed", extra={"event_id": event_id})
        raise


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    observability.AWS_CALLS.reset()
    fields: dict[str, Any] = {"records": len(event.get("Records") or [])}
    try:
        result = process_partial_response(
            event=event, record_handler=audit_record, processor=processor, context=context
        )
        fields["failed"] = len(result.get("batchItemFailures") or [])
        return result
    finally:
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        logger.info("batch", extra=fields | observability.AWS_CALLS.fields())
