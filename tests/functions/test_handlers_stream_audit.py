"""stream_audit: DynamoDB stream batches -> one audit object per record in the template's own
bucket (moto), partial batch failures reported by sequence number, replays byte-identical."""

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws import REGION
from tests.handlers import load_handler

STREAM_ARN = "arn:aws:dynamodb:us-west-2:123456789012:table/t/stream/2026-11-21T00:00:00.000"


def record(
    event_id: str,
    name: str,
    sequence: str,
    keys: Any,
    old: Any = None,
    new: Any = None,
    **stream: Any,
) -> dict:
    """A DynamoDB stream record as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    dynamodb = {
        "ApproximateCreationDateTime": 1763683200.0,
        "SequenceNumber": sequence,
        "SizeBytes": 128,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        **({"Keys": keys} if keys is not None else {}),
        **({"OldImage": old} if old is not None else {}),
        **({"NewImage": new} if new is not None else {}),
        **stream,
    }
    return {
        "eventID": event_id,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


KEYS = {"id": {"S": "a"}}
OLD = {"id": {"S": "a"}, "v": {"N": "1"}, "updated_at": {"S": "2026-11-21T00:00:00.000000Z"}}
NEW = {
    "id": {"S": "a"},
    "v": {"N": "2.5"},
    "big": {"N": "100000000000000000000"},
    "nested": {"M": {"list": {"L": [{"S": "x"}, {"BOOL": True}, {"NULL": True}]}}},
    "tags": {"SS": ["b", "a"]},
    "raw": {"B": base64.b64encode(b"\x00\x01").decode()},
    "blobs": {"BS": [base64.b64encode(b"z").decode(), base64.b64encode(b"a").decode()]},
    "counts": {"NS": ["10", "9", "0.5"]},
}
VALID = [
    record("e1", "INSERT", "100", KEYS, new=NEW),
    record("e2", "MODIFY", "200", KEYS, old=OLD, new=NEW),
    record("e3", "REMOVE", "300", KEYS, old=OLD),
]


def invoke(event: dict, context: Any) -> dict:
    return load_handler("stream_audit").lambda_handler(event, context)


def objects(bucket: Any) -> dict[str, bytes]:
    return {o.key: o.get()["Body"].read() for o in bucket.objects.all()}


@pytest.fixture
def bucket(make_stack):
    return make_stack().bucket


def test_each_record_writes_one_object_of_the_documented_shape(bucket, lambda_context):
    assert invoke({"Records": VALID}, lambda_context) == {"batchItemFailures": []}
    written = {key: json.loads(body) for key, body in objects(bucket).items()}
    assert set(written) == {"audit/e1.json", "audit/e2.json", "audit/e3.json"}
    new_image = {
        "id": "a",
        "v": 2.5,
        "big": 10**20,
        "nested": {"list": ["x", True, None]},
        "tags": ["a", "b"],
        "raw": base64.b64encode(b"\x00\x01").decode(),
        "blobs": sorted([base64.b64encode(b"z").decode(), base64.b64encode(b"a").decode()]),
        "counts": [0.5, 9, 10],
    }
    old_image = {"id": "a", "v": 1, "updated_at": "2026-11-21T00:00:00.000000Z"}
    common = {"keys": {"id": "a"}, "approximate_creation_time": 1763683200.0}
    assert written["audit/e1.json"] == {
        **common,
        "event_id": "e1",
        "event_name": "INSERT",
        "old_image": None,
        "new_image": new_image,
        "sequence_number": "100",
    }
    assert written["audit/e2.json"] == {
        **common,
        "event_id": "e2",
        "event_name": "MODIFY",
        "old_image": old_image,
        "new_image": new_image,
        "sequence_number": "200",
    }
    assert written["audit/e3.json"] == {
        **common,
        "event_id": "e3",
        "event_name": "REMOVE",
        "old_image": old_image,
        "new_image": None,
        "sequence_number": "300",
    }
    assert {o.get()["ContentType"] for o in bucket.objects.all()} == {"application/json"}


def test_history_keys_are_plain_numbers(bucket, lambda_context):
    keys = {"itemId": {"S": "h"}, "timestamp": {"N": "1763683200123456"}}
    invoke({"Records": [record("h1", "INSERT", "1", keys, new=keys)]}, lambda_context)
    body = json.loads(objects(bucket)["audit/h1.json"])
    assert body["keys"] == {"itemId": "h", "timestamp": 1763683200123456}


POISON = [
    ("no-keys", record("p", "INSERT", "250", None, new=NEW)),
    ("empty-keys", record("p", "INSERT", "250", {}, new=NEW)),
    ("undecodable-image", record("p", "MODIFY", "250", KEYS, new={"a": {"X": "1"}})),
    ("image-not-a-map", record("p", "MODIFY", "250", KEYS, old=["x"])),
    ("number-dynamodb-refuses", record("p", "INSERT", "250", KEYS, new={"n": {"N": "1e999"}})),
    ("unknown-event-name", record("p", "UPSERT", "250", KEYS, new=NEW)),
    ("unsafe-event-id", record("../p", "INSERT", "250", KEYS, new=NEW)),
    ("bad-base64", record("p", "INSERT", "250", KEYS, new={"b": {"B": "%%%"}})),
    ("bad-creation-time", record("p", "INSERT", "250", KEYS, ApproximateCreationDateTime="x")),
]


@pytest.mark.parametrize("poison", [p[1] for p in POISON], ids=[p[0] for p in POISON])
def test_a_poison_record_is_reported_alone_and_the_others_written(
    bucket, lambda_context, fresh_logger, capsys, poison
):
    batch = [VALID[0], poison, *VALID[1:]]
    assert invoke({"Records": batch}, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "250"}]
    }
    assert set(objects(bucket)) == {"audit/e1.json", "audit/e2.json", "audit/e3.json"}
    assert "audit record failed" in capsys.readouterr().out


def test_an_s3_failure_reports_that_record(bucket, lambda_context, dynamodb_hooks):
    def refuse_e2(params: dict, **_: Any) -> None:
        if params["Key"] == "audit/e2.json":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    dynamodb_hooks("before-parameter-build.s3.PutObject", refuse_e2)
    assert invoke({"Records": VALID}, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "200"}]
    }
    assert set(objects(bucket)) == {"audit/e1.json", "audit/e3.json"}


def test_a_batch_that_fails_entirely_raises_so_it_is_retried(bucket, lambda_context):
    handler = load_handler("stream_audit")
    with pytest.raises(handler.BatchFailed):
        handler.lambda_handler({"Records": [POISON[0][1]]}, lambda_context)
    assert objects(bucket) == {}


def test_a_replay_writes_the_same_objects_byte_for_byte(bucket, lambda_context):
    invoke({"Records": VALID}, lambda_context)
    first = objects(bucket)
    invoke({"Records": list(reversed(VALID))}, lambda_context)
    assert objects(bucket) == first
    assert all(b"\n" not in body and b": " not in body for body in first.values())
