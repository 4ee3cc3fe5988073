"""The table's DynamoDB stream -> one audit object per record in the bucket (items_common.audit
documents the shape and key), then the record's attachment upkeep (items_common.upkeep: commit
the object a row newly references; in plain mode, delete the one it no longer does). No route:
an event source mapping invokes it with batches.

A partial batch response (ReportBatchItemFailures): a record that raises (its audit object or its
upkeep) is reported by its sequence number and the others are handled; Lambda then retries from
the first failure, which is harmless since handling a record again writes the same object and
repeats idempotent S3 calls. A batch in which every record fails raises (BatchFailed), so Lambda
retries it whole and the function's Errors alarm counts it. After the mapping's retries the
batch's description goes to the failure queue; an attachment left uncommitted then expires after
the pending days (items_common.attachments: the alarms fire long before).

The loop is ours, not Powertools' BatchProcessor: that utility imports asyncio and every event
class, 38 ms of this function's cold start (#17), for the twenty lines below.
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html

Each batch logs one INFO line, "batch": its records, how many failed (absent when all did and the
batch raised), its duration and its AWS calls as the API's request line has them (dynamodb_ms,
dynamodb_calls, s3_ms, s3_calls; items_common.observability).
"""

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from items_common import audit, observability, upkeep

if TYPE_CHECKING:  # a type only, not a cold-start import
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class BatchFailed(Exception):
    """Every record of the batch failed: Lambda retries the whole batch."""


def audit_record(record: dict[str, Any]) -> None:
    """Write one record's audit object, then do its attachment upkeep; log a failure (with its
    traceback) before the batch reports it, so the operator sees why."""
    event_id = record.get("eventID")
    try:
        audit.write(record)
    except Exception:
        logger.exception("audit record failed", extra={"event_id": event_id})
        raise
    try:
        upkeep.keep(audit.entry(record))
    except Exception:
        logger.exception("attachment upkeep failed", extra={"event_id": event_id})
        raise


def failures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Handle every record; the batch item failures, one per record that raised, by its sequence
    number (a missing one is reported as None, which Lambda treats as the whole batch failing)."""
    failed = []
    for record in records:
        try:
            audit_record(record)
        except Exception:
            failed.append({"itemIdentifier": (record.get("dynamodb") or {}).get("SequenceNumber")})
    return failed


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    started = time.perf_counter()
    observability.AWS_CALLS.reset()
    records = event.get("Records") or []
    fields: dict[str, Any] = {"records": len(records)}
    try:
        failed = failures(records)
        if records and len(failed) == len(records):
            raise BatchFailed(f"all {len(records)} records of the batch failed")
        fields["failed"] = len(failed)
        return {"batchItemFailures": failed}
    finally:
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        logger.info("batch", extra=fields | observability.AWS_CALLS.fields())
