"""DynamoDB stream records -> audit objects in the bucket (the stream_audit function).

Each record becomes ONE JSON object at audit/<eventID>.json:

    {
      "event_id": "<the record's eventID>",
      "event_name": "INSERT" | "MODIFY" | "REMOVE",
      "keys": {<key attribute>: <value>, ...},
      "old_image": {<attribute>: <value>, ...} | null,
      "new_image": {<attribute>: <value>, ...} | null,
      "approximate_creation_time": <epoch seconds, as in the record> | null,
      "sequence_number": "<the record's SequenceNumber>"
    }

keys and images are the rows as the table stores them (the table's own attribute names, e.g.
PARTITION_KEY and SORT_KEY, not the API's `id`), deserialised with boto3's TypeDeserializer and
written as plain JSON by jsonify (numbers int when integral else float, sets as sorted lists,
binary as base64). An image absent from the record (old of an INSERT, new of a REMOVE) is null.

Idempotent: the object key is a function of the eventID and the bytes a function of the record
(sorted keys, compact), so a replayed record (Lambda retries a batch from its first failure)
writes the same object with the same bytes again.

A record that cannot be audited raises (BadRecord, or the deserialiser's own error): no or an
unsafe eventID, an unknown eventName, no dynamodb.Keys or SequenceNumber, an image DynamoDB could
not have written. The batch then reports exactly that record (ReportBatchItemFailures).

The audit objects are not attachments: written untagged under audit/, never committed, deleted
or expired. After a record's audit object, the consumer does the record's attachment upkeep
from the same entry (upkeep.py).
"""

import base64
import re
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from . import jsonify, settings
from .aws import s3

PREFIX = "audit"
EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})
# eventIDs are hex strings; anything else must not shape an S3 key.
_EVENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DESERIALIZER = TypeDeserializer()


class BadRecord(ValueError):
    """A stream record without what an audit object needs."""


def _binary_decoded(value: Any) -> Any:
    """A DynamoDB JSON value as TypeDeserializer takes it: Lambda delivers binary (B, BS) as
    base64 text, the deserialiser wants bytes (invalid base64 raises: a bad record)."""
    if not isinstance(value, dict) or len(value) != 1:
        return value  # the deserialiser refuses it
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner, validate=True)}
    if kind == "BS":
        return {kind: [base64.b64decode(v, validate=True) for v in inner]}
    if kind == "M" and isinstance(inner, dict):
        return {kind: {k: _binary_decoded(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {kind: [_binary_decoded(v) for v in inner]}
    return value


def _plain(image: Any) -> dict[str, Any] | None:
    """A stream image (DynamoDB JSON) as Python values, or None when absent."""
    if image is None:
        return None
    if not isinstance(image, dict):
        raise BadRecord("an image must be a map of attributes")
    return {k: _DESERIALIZER.deserialize(_binary_decoded(v)) for k, v in image.items()}


def entry(record: dict[str, Any]) -> dict[str, Any]:
    """The audit object of one stream record (see the module docstring), or BadRecord."""
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise BadRecord("the record has no usable eventID")
    if record.get("eventName") not in EVENT_NAMES:
        raise BadRecord(f"record {event_id} has no known eventName")
    stream = record.get("dynamodb")
    if not isinstance(stream, dict) or not stream.get("Keys"):
        raise BadRecord(f"record {event_id} has no dynamodb.Keys")
    if not isinstance(stream.get("SequenceNumber"), str):
        raise BadRecord(f"record {event_id} has no SequenceNumber")
    created = stream.get("ApproximateCreationDateTime")
    if created is not None and (isinstance(created, bool) or not isinstance(created, int | float)):
        raise BadRecord(f"record {event_id} has a malformed ApproximateCreationDateTime")
    return {
        "event_id": event_id,
        "event_name": record["eventName"],
        "keys": _plain(stream["Keys"]),
        "old_image": _plain(stream.get("OldImage")),
        "new_image": _plain(stream.get("NewImage")),
        "approximate_creation_time": created,
        "sequence_number": stream["SequenceNumber"],
    }


def key_of(event_id: str) -> str:
    return f"{PREFIX}/{event_id}.json"


def write(record: dict[str, Any]) -> str:
    """Write the record's audit object; returns its key."""
    audit = entry(record)
    key = key_of(audit["event_id"])
    s3().put_object(
        Bucket=settings.bucket_name(),
        Key=key,
        Body=jsonify.dumps(audit, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )
    return key
