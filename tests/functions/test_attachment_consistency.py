"""Attachments in S3 stay consistent with the items (#16 items 7 and 9), on the template's own
table and bucket (moto):

- a write that fails or is refused after its upload leaves its object tagged pending, and the
  bucket's lifecycle rules, as the built template declares them, expire it: no object stays that
  no item references;
- the stream consumer, fed the table's own stream records, commits the objects rows reference
  (they survive the lifecycle) and, in plain mode, deletes the ones rows stopped referencing;
- a plain-mode DELETE whose object S3 will not delete is still a 204 (the row is gone, the
  metric counted) and the REMOVE record's upkeep deletes the object.

Faults are injected at the HTTP layer: a botocore `before-send` hook answers an AWS error
response (the request never reaches moto), so botocore's own retries run and see it every time.
"""

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from items_common import attachments, upkeep
from templates import data
from templates.catalog import FUNCTIONS
from templates.naming import logical_id
from tests.aws import REGION
from tests.cfn import function_policy, parameter_values, policy_statements, resources_of_type
from tests.handler_client import (
    GENERIC_500,
    Reply,
    concurrent_writer,
    create,
    delete,
    get,
    head_key,
    patch,
    post,
    put,
    reply_of,
)
from tests.handlers import api_event, load_handler
from tools.deploy.stage_params import stage_values
from tools.intrinsics import Resolver
from tools.local import streams

PENDING_TAGS = {attachments.TAG_KEY: attachments.PENDING}
# When the lifecycle is evaluated: a day after the pending objects' expiry.
LATER = data.PENDING_DAYS + 1
STREAM_RETENTION = 24 * 3600  # DynamoDB keeps stream records 24 h
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"


# -- the world as the tests see it: own clients, the table's stream, the lifecycle ----------------


def lifecycle_rules(template: dict) -> list[dict]:
    """The bucket's lifecycle rules as the built template declares them."""
    [bucket] = resources_of_type(template, "AWS::S3::Bucket").values()
    return bucket["Properties"]["LifecycleConfiguration"]["Rules"]


# Rule properties the evaluator understands; another (a date, a size filter) fails the test
# rather than being ignored.
RULE_PROPERTIES = {
    "Id",
    "Status",
    "Prefix",
    "TagFilters",
    "ExpirationInDays",
    "NoncurrentVersionExpiration",
    "ExpiredObjectDeleteMarker",
    "AbortIncompleteMultipartUpload",
}


def still_current(rules: list[dict], objects: dict[str, dict[str, str]], days: int) -> set[str]:
    """The keys of `objects` (key -> its tags) still current `days` days after they were written,
    with nothing else happening, as S3 applies `rules`: an enabled rule's expiration
    (ExpirationInDays) makes a current version noncurrent when the key has the rule's Prefix and
    the object carries every one of its TagFilters. (What the other rules remove, noncurrent
    versions, delete markers and abandoned uploads, is not current anyway.)"""
    expired = set()
    for rule in rules:
        assert set(rule) <= RULE_PROPERTIES, rule
        if rule["Status"] != "Enabled" or days < rule.get("ExpirationInDays", days + 1):
            continue
        for key, tags in objects.items():
            prefixed = key.startswith(rule.get("Prefix", ""))
            tagged = all(tags.get(f["Key"]) == f["Value"] for f in rule.get("TagFilters", []))
            if prefixed and tagged:
                expired.add(key)
    return set(objects) - expired


@dataclass
class World:
    """The stack seen through clients of its own (never hooked), its stream, the consumer."""

    stack: Any
    context: Any
    rules: list[dict]
    batch_size: int
    session: boto3.Session = field(default_factory=lambda: boto3.Session(region_name=REGION))
    _iterator: str | None = None

    @property
    def history(self) -> bool:
        return bool(self.stack.parameters.get("SortKeyName"))

    def rows(self) -> list[dict]:
        found = self.stack.table.scan(ConsistentRead=True)["Items"]
        return sorted(found, key=lambda r: json.dumps(r, sort_keys=True, default=str))

    def referenced(self) -> set[str]:
        return {r["file_key"] for r in self.rows() if "file_key" in r}

    def objects(self) -> dict[str, dict[str, str]]:
        """The current objects under items/, each with its tags."""
        s3 = self.session.client("s3")
        bucket = self.stack.bucket.name
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=attachments.PREFIX + "/")
        return {
            o["Key"]: {
                t["Key"]: t["Value"]
                for t in s3.get_object_tagging(Bucket=bucket, Key=o["Key"])["TagSet"]
            }
            for o in listed.get("Contents", [])
        }

    def content(self, key: str) -> str:
        return self.stack.bucket.Object(key).get()["Body"].read().decode()

    def records(self) -> list[dict]:
        """The stream's records not read yet, as Lambda hands them to the consumer."""
        client = self.session.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        arn = self.stack.table.latest_stream_arn
        if self._iterator is None:
            [shard] = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            self._iterator = client.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = client.get_records(ShardIterator=self._iterator)
        self._iterator = answer["NextShardIterator"]
        return [streams.lambda_record(r, arn) for r in answer["Records"]]

    def consume(self, records: list[dict]) -> list[str]:
        """Invoke the stream consumer with `records` in the mapping's batches; the sequence
        numbers it reported as failed."""
        failed = []
        for start in range(0, len(records), self.batch_size):
            batch = records[start : start + self.batch_size]
            handler = load_handler("stream_audit")
            try:
                answer = handler.lambda_handler({"Records": batch}, self.context)
            except handler.BatchFailed:  # every record failed: Lambda retries the batch
                failed += [r["dynamodb"]["SequenceNumber"] for r in batch]
                continue
            failed += [f["itemIdentifier"] for f in answer["batchItemFailures"]]
        return failed

    def drain(self) -> list[dict]:
        """Hand every new record to the consumer, which must handle them all; the records."""
        records = self.records()
        assert self.consume(records) == []
        return records

    def left_later(self) -> set[str]:
        """The current objects still there LATER days on, by the template's lifecycle rules."""
        return still_current(self.rules, self.objects(), LATER)

    def assert_no_orphans(self) -> None:
        """What stays is exactly what the rows reference: none more, none fewer."""
        assert self.left_later() == self.referenced()


def _world(stack: Any, template: dict, context: Any) -> World:
    [mapping] = streams.read_mappings(template, parameter_values(template, stack.parameters))
    return World(stack, context, lifecycle_rules(template), mapping.batch_size)


@pytest.fixture(params=["plain", "history"])
def world(make_stack, template, lambda_context, request) -> World:
    history = request.param == "history"
    stack = make_stack(**({"SortKeyName": "timestamp"} if history else {}))
    return _world(stack, template, lambda_context)


@pytest.fixture
def plain(make_stack, template, lambda_context) -> World:
    return _world(make_stack(), template, lambda_context)


# -- faults at the HTTP layer -------------------------------------------------------------------


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


@dataclass
class Fault:
    """A before-send hook: while `on`, every attempt of the operation is answered with this
    error response instead of reaching AWS (moto), and counted."""

    status: int
    headers: dict[str, str]
    body: bytes
    attempts: int = 0
    on: bool = True

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.on:
            return None
        self.attempts += 1
        request.url = "https://fault.invalid/"  # so moto's own before-send hook lets it pass
        return AWSResponse(request.url, self.status, self.headers, _Body(self.body))


def dynamodb_error(code: str = "InternalServerError", status: int = 500) -> Fault:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return Fault(status, headers, json.dumps(body).encode())


def s3_error(code: str = "InternalError", status: int = 500) -> Fault:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    return Fault(status, {"Content-Type": "application/xml"}, body.encode())


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Callable], None]:
    """hooks(event, handler): register a botocore hook on the session the handlers use, made
    the default session on first use (so the stack's and the World's clients, made before,
    are never hooked)."""
    sessions: list[boto3.Session] = []

    def register(event_name: str, handler: Callable) -> None:
        if not sessions:
            sessions.append(boto3.Session())
            monkeypatch.setattr(boto3, "DEFAULT_SESSION", sessions[0])
        sessions[0].events.register(event_name, handler)

    return register


# -- a failed or refused write leaves no orphan (item 9) -----------------------------------------

ITEM = "doc"
NEW = {"file_content": "new"}
BODY = json.dumps({"v": 2, **NEW})
# The answer to a DynamoDB 5xx that outlasted botocore's retries (_assert_aws_failed).
AWS_FAILED = object()


def _assert_aws_failed(reply: Reply) -> None:
    """The API's answer to AWS failing: the generic 500, or the 503 UNAVAILABLE with
    Retry-After that #16's handling of AWS unavailability answers (in progress beside this
    change: either is accepted until it lands)."""
    if reply.status == 500:
        assert reply.body == GENERIC_500
    else:
        assert (reply.status, reply.error_code) == (503, "UNAVAILABLE"), reply.raw
        assert set(reply.body["error"]) == {"code", "message"}
        assert reply.headers["Retry-After"].isdigit()


def _unchecked(context: Any, function: str, method: str, body: str) -> Reply:
    """A request whose status the catalog may not list yet (the 503 of _assert_aws_failed)."""
    if method == "POST":
        event = api_event(method, "/items", body=body)
    else:
        event = api_event(method, f"/items/{ITEM}", path_parameters={"id": ITEM}, body=body)
    return reply_of(load_handler(function).lambda_handler(event, context))


STALE_IF_MATCH = {"headers": {"If-Match": '"7"'}}


def _raced(world: World, hooks: Callable, times: int) -> None:
    """Another writer changes the item just before each of our first `times` writes."""
    operation = "TransactWriteItems" if world.history else "UpdateItem"
    writer = concurrent_writer(world.stack.table, head_key(world.stack, ITEM), times)
    hooks(f"before-call.dynamodb.{operation}", writer)


def _store_fails(world: World, hooks: Callable, operation: str) -> Fault:
    """Every attempt of the store's write answers DynamoDB's 500 (history: a transaction)."""
    fault = dynamodb_error()
    hooks(f"before-send.dynamodb.{'TransactWriteItems' if world.history else operation}", fault)
    return fault


# What the racing writer (handler_client.concurrent_writer) changes: the rest stays as it was.
RACER_FIELDS = ("updated_at", "version", "winner")


def _unchanged(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in RACER_FIELDS} for row in rows]


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"error": {"code": code, "message": message}}


STALE = f"item {ITEM} is not at version 7; read it again before writing"
RACED = f"item {ITEM} is not at version 1; read it again before writing"
LOST = f"item {ITEM} was modified concurrently; retry"
FAILED_WRITES = [
    # (id, the request, the setup of its fault, the answer, objects the request writes)
    (
        "post-409-existing-id",
        lambda c: post(c, json.dumps({"id": ITEM, "file_content": "new"})),
        None,
        _error(409, "CONFLICT", f"item {ITEM} already exists"),
        1,
    ),
    (
        "put-404-missing-item",
        lambda c: put(c, "missing", BODY),
        None,
        _error(404, "NOT_FOUND", "item missing does not exist"),
        1,
    ),
    (
        "put-412-stale-if-match",
        lambda c: put(c, ITEM, BODY, **STALE_IF_MATCH),
        None,
        _error(412, "PRECONDITION_FAILED", STALE),
        1,
    ),
    (
        # refused before anything is written: the precondition is checked on the row read
        "patch-412-stale-if-match",
        lambda c: patch(c, ITEM, BODY, **STALE_IF_MATCH),
        None,
        _error(412, "PRECONDITION_FAILED", STALE),
        0,
    ),
    (
        # written, then refused by DynamoDB: a writer got in between our read and our write
        "patch-412-raced",
        lambda c: patch(c, ITEM, BODY, headers={"If-Match": '"1"'}),
        lambda world, hooks: _raced(world, hooks, 1),
        _error(412, "PRECONDITION_FAILED", RACED),
        1,
    ),
    (
        "put-409-lost-races",
        lambda c: put(c, ITEM, BODY),
        lambda world, hooks: _raced(world, hooks, 3),
        _error(409, "CONFLICT", LOST),
        1,
    ),
    (
        "post-500-dynamodb",
        lambda c: _unchecked(c, "create_item", "POST", json.dumps({"id": "fresh", **NEW})),
        lambda world, hooks: _store_fails(world, hooks, "PutItem"),
        AWS_FAILED,
        1,
    ),
    (
        "put-500-dynamodb",
        lambda c: _unchecked(c, "update_item", "PUT", BODY),
        lambda world, hooks: _store_fails(world, hooks, "UpdateItem"),
        AWS_FAILED,
        1,
    ),
    (
        "patch-500-dynamodb",
        lambda c: _unchecked(c, "patch_item", "PATCH", BODY),
        lambda world, hooks: _store_fails(world, hooks, "UpdateItem"),
        AWS_FAILED,
        1,
    ),
]


@pytest.mark.parametrize(
    "request_, fault, answer, uploads",
    [case[1:] for case in FAILED_WRITES],
    ids=[case[0] for case in FAILED_WRITES],
)
def test_a_failed_or_refused_write_leaves_only_a_pending_object_that_expires(
    world, hooks, request_, fault, answer, uploads
):
    create(world.context, {"id": ITEM, "v": 1, "file_content": "kept"})
    world.drain()  # the item's object is committed
    rows, before = world.rows(), world.objects()
    assert list(before.values()) == [{}]  # one object, committed
    injected = fault(world, hooks) if fault else None

    reply: Reply = request_(world.context)

    if answer is AWS_FAILED:
        _assert_aws_failed(reply)
    else:
        assert (reply.status, reply.body) == answer
    if isinstance(injected, Fault):
        assert injected.attempts > 1  # botocore retried, and the fault outlasted its retries
        injected.on = False
    assert _unchanged(world.rows()) == _unchanged(rows)
    written = {k: t for k, t in world.objects().items() if k not in before}
    assert len(written) == uploads
    assert all(tags == PENDING_TAGS for tags in written.values())
    assert all(world.content(k) == "new" for k in written)
    world.drain()  # whatever the stream shows (a raced writer's change) changes nothing here
    assert world.left_later() == set(before) == world.referenced()
    world.assert_no_orphans()
    assert get(world.context, ITEM).body["file_content"] == "kept"


def test_a_write_without_fault_is_answered_as_usual(world):
    """The control of the table above: the same item and write, nothing injected."""
    create(world.context, {"id": ITEM, "v": 1, "file_content": "kept"})
    assert put(world.context, ITEM, BODY).status == 200
    world.drain()
    world.assert_no_orphans()
    assert get(world.context, ITEM).body["file_content"] == "new"


# -- successful writes: committed by the stream consumer, dropped objects deleted in plain mode --


def _post(content: str | None = "one") -> Callable:
    body = {"id": ITEM} if content is None else {"id": ITEM, "file_content": content}
    return lambda c: post(c, json.dumps(body))


def _put(content: str | None) -> Callable:
    body = {"v": 1} if content is None else {"v": 1, "file_content": content}
    return lambda c: put(c, ITEM, json.dumps(body))


def _patch(content: str | None) -> Callable:
    return lambda c: patch(
        c, ITEM, json.dumps({"file_content": content}),
        headers={"Content-Type": "application/merge-patch+json"},
    )  # fmt: skip


def _delete() -> Callable:
    return lambda c: delete(c, ITEM)


SUCCESSES = [
    # (id, the writes, the content GET shows at the end (None: 404 / no attachment))
    ("create", [_post("one")], "one"),
    ("create-without-attachment", [_post(None)], None),
    ("put-replaces", [_post("one"), _put("two")], "two"),
    ("put-drops", [_post("one"), _put(None)], None),
    ("put-keeps-none-then-sets", [_post(None), _put("two")], "two"),
    ("patch-replaces", [_post("one"), _patch("two")], "two"),
    ("patch-removes", [_post("one"), _patch(None)], None),
    ("delete", [_post("one"), _delete()], None),
    ("delete-then-create-again", [_post("one"), _delete(), _post("again")], "again"),
    ("many", [_post("one"), _put("two"), _patch("three"), _put(None), _patch("four")], "four"),
]


@pytest.mark.parametrize("drain_each", [True, False], ids=["drained-each", "drained-at-end"])
@pytest.mark.parametrize("writes, shown", [c[1:] for c in SUCCESSES], ids=[c[0] for c in SUCCESSES])
def test_successful_writes_are_committed_and_dropped_objects_deleted_in_plain_mode(
    world, writes, shown, drain_each
):
    written: list[str] = []
    for write in writes:
        before = set(world.objects())
        assert write(world.context).status in (200, 201, 204)
        written += sorted(set(world.objects()) - before)
        if drain_each:
            world.drain()
    world.drain()

    objects = world.objects()
    assert all(tags == {} for tags in objects.values())  # every one left is committed
    if world.history:  # versions reference every object: nothing is ever deleted
        assert set(objects) == set(written) == world.referenced()
    else:  # exactly the current attachment stays
        assert set(objects) == world.referenced()
        assert len(objects) == (shown is not None)
    world.assert_no_orphans()
    reply = get(world.context, ITEM)
    if reply.status == 200:
        assert reply.body.get("file_content") == shown
    else:
        assert (reply.status, shown) == (404, None)


def test_a_pending_object_reads_like_any_other(world):
    created = create(world.context, {"id": ITEM, "file_content": "not committed yet"})
    [tags] = world.objects().values()
    assert tags == PENDING_TAGS
    assert get(world.context, ITEM).body == created


# -- plain DELETE when S3 will not delete the object (item 7) -----------------------------------


def test_a_delete_whose_object_s3_refuses_is_a_204_and_the_stream_deletes_it(
    plain, hooks, monkeypatch, capsys
):
    service = f"items-api-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    create(plain.context, {"id": ITEM, "file_content": "private"})
    plain.drain()
    [key] = plain.referenced()
    fault = s3_error()
    hooks("before-send.s3.DeleteObject", fault)
    capsys.readouterr()

    reply = delete(plain.context, ITEM)

    assert (reply.status, reply.raw) == (204, "")
    assert fault.attempts > 1  # botocore retried; every attempt failed
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    [metric] = [p for p in printed if "_aws" in p]
    assert metric["ItemsDeleted"] == [1] and metric["service"] == service
    [warning] = [p for p in printed if p.get("level") == "WARNING"]
    assert warning["file_key"] == key and "stream consumer" in warning["message"]
    assert plain.rows() == []
    assert plain.objects() == {key: {}}  # still there, committed: the lifecycle keeps it...

    fault.on = False  # ...until the REMOVE record's upkeep, whose DeleteObject goes through
    [remove] = [r for r in plain.drain() if r["eventName"] == "REMOVE"]
    assert remove["dynamodb"]["OldImage"]["file_key"] == {"S": key}
    assert plain.objects() == {}
    plain.assert_no_orphans()
    again = delete(plain.context, ITEM)
    assert (again.status, again.error_code) == (404, "NOT_FOUND")


def test_a_delete_removes_the_object_at_once_when_s3_answers(plain):
    create(plain.context, {"id": ITEM, "file_content": "private"})
    assert delete(plain.context, ITEM).status == 204
    assert plain.objects() == {}  # before the stream consumer ran
    plain.drain()  # the INSERT's commit finds no object: harmless, the row is gone
    plain.assert_no_orphans()


# -- the consumer's upkeep: replays, failures ---------------------------------------------------


def test_a_replayed_record_is_harmless(world):
    create(world.context, {"id": ITEM, "file_content": "one"})
    assert put(world.context, ITEM, '{"file_content": "two"}').status == 200
    records = world.drain()
    after = (world.rows(), world.objects())
    for record in records:  # each again, alone and in order
        assert world.consume([record]) == []
    assert world.consume(records) == []  # and the whole batch again
    assert (world.rows(), world.objects()) == after
    world.assert_no_orphans()


def test_a_replay_after_the_item_is_gone_is_harmless_in_plain_mode(plain):
    create(plain.context, {"id": ITEM, "file_content": "one"})
    assert put(plain.context, ITEM, '{"file_content": "two"}').status == 200
    early = plain.drain()
    assert delete(plain.context, ITEM).status == 204
    plain.drain()
    assert plain.objects() == {}
    assert plain.consume(early) == []  # commits of deleted objects, deletes again
    assert plain.objects() == {}


def test_a_commit_whose_object_vanished_is_reported_in_history_mode(
    make_stack, template, lambda_context
):
    """History mode deletes nothing, so a missing object is an inconsistency to report."""
    world = _world(make_stack(SortKeyName="timestamp"), template, lambda_context)
    create(world.context, {"id": ITEM, "file_content": "one"})
    records = world.records()
    [key] = world.referenced()
    world.stack.bucket.Object(key).delete()  # by hand, outside the API
    [insert] = [r for r in records if r["dynamodb"]["Keys"]["timestamp"] == {"N": "0"}]
    assert world.consume(records) == [insert["dynamodb"]["SequenceNumber"]]


def test_an_upkeep_failure_reports_the_record_and_its_retry_commits(world, hooks):
    create(world.context, {"id": ITEM, "file_content": "one"})
    fault = s3_error()
    hooks("before-send.s3.DeleteObjectTagging", fault)
    records = world.records()
    heads = [r for r in records if "timestamp" not in r["dynamodb"]["Keys"]
             or r["dynamodb"]["Keys"]["timestamp"] == {"N": "0"}]  # fmt: skip
    assert world.consume(records) == [heads[0]["dynamodb"]["SequenceNumber"]]
    assert fault.attempts > 1
    [tags] = world.objects().values()
    assert tags == PENDING_TAGS  # not committed: left as it was, the record to be retried
    assert world.left_later() == set()  # (were it never retried, it would expire)

    fault.on = False
    assert world.consume(records) == []  # Lambda's retry
    world.assert_no_orphans()


# -- the decision alone (upkeep.plan) -------------------------------------------------------------

K1, K2 = f"items/{ITEM}/1111", f"items/{ITEM}/2222"
PLANS = [
    # (id, event, keys, old file_key, new file_key, plain plan, history plan); None: no image
    ("insert", "INSERT", {}, None, K1, ([K1], []), ([K1], [])),
    ("insert-without", "INSERT", {}, None, "", ([], []), ([], [])),
    ("modify-replaces", "MODIFY", {}, K1, K2, ([K2], [K1]), ([K2], [])),
    ("modify-drops", "MODIFY", {}, K1, "", ([], [K1]), ([], [])),
    ("modify-sets", "MODIFY", {}, "", K2, ([K2], []), ([K2], [])),
    ("modify-keeps", "MODIFY", {}, K1, K1, ([], []), ([], [])),
    ("remove", "REMOVE", {}, K1, None, ([], [K1]), ([], [])),
    ("version-row", "INSERT", {"timestamp": 1763683200123456}, None, K1, ([K1], []), ([], [])),
    ("foreign-key", "MODIFY", {}, "audit/e1.json", f"items/other/{'3' * 32}", ([], []), ([], [])),
    ("nested-key", "REMOVE", {}, f"items/{ITEM}/a/b", None, ([], []), ([], [])),
]


@pytest.mark.parametrize("history", [False, True], ids=["plain", "history"])
@pytest.mark.parametrize(
    "event, keys, old, new, plain_plan, history_plan",
    [case[1:] for case in PLANS],
    ids=[case[0] for case in PLANS],
)
def test_the_upkeep_plan(history, event, keys, old, new, plain_plan, history_plan):
    def image(key: str | None) -> dict | None:
        if key is None:
            return None
        return {"id": ITEM, **({"file_key": key} if key else {})}

    sort_key = "timestamp" if history else None
    table_keys = {"id": ITEM, **({"timestamp": 0} if history else {}), **keys}
    entry = {"event_name": event, "keys": table_keys, "old_image": image(old),
             "new_image": image(new)}  # fmt: skip
    commit, deleted = history_plan if history else plain_plan
    assert upkeep.plan(entry, "id", sort_key) == upkeep.Plan(tuple(commit), tuple(deleted))


# -- the template: the rule, and exactly the permissions the scheme uses -------------------------


def test_the_lifecycle_rule_expires_what_is_tagged_pending_under_items(template):
    [rule] = [r for r in lifecycle_rules(template) if "TagFilters" in r]
    assert rule == {
        "Id": "expire-uncommitted-attachments",
        "Status": "Enabled",
        "Prefix": "items/",
        "TagFilters": [{"Key": attachments.TAG_KEY, "Value": attachments.PENDING}],
        "ExpirationInDays": data.PENDING_DAYS,
    }
    assert data.PENDING_TAG == (attachments.TAG_KEY, attachments.PENDING)
    # past the stream's 24 h retention (and the mapping's longest record age) by days
    record_age = int(template["Parameters"]["StreamMaxRecordAgeSeconds"]["MaxValue"])
    assert max(STREAM_RETENTION, record_age) + 2 * 86400 <= data.PENDING_DAYS * 86400
    # audit objects are never tagged, nor under items/: the rule cannot reach them
    assert not data.AUDIT_PREFIX.startswith(rule["Prefix"])


def _actions(template: dict, name: str, sort_key: str, sid: str) -> set[str]:
    resolver = Resolver(template, {**stage_values(template, "test"), "SortKeyName": sort_key})
    policy = resolver.resource(function_policy(template, logical_id(name, "function")))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return {a for s in statements if s["Sid"] == sid for a in s["Action"]}


@pytest.mark.parametrize("sort_key", ["", "timestamp"], ids=["plain", "history"])
def test_writers_may_tag_and_only_under_items(template, sort_key):
    writers = {f.name for f in FUNCTIONS if "s3:PutObject" in _actions(
        template, f.name, sort_key, "Attachments")}  # fmt: skip
    assert writers == {"create_item", "update_item", "patch_item"}
    for name in writers:
        assert {"s3:PutObject", "s3:PutObjectTagging"} <= _actions(
            template, name, sort_key, "Attachments"
        )
    tagging = [
        statement
        for _, statement in policy_statements(template)
        if any("Tagging" in action for action in statement["Action"])
    ]
    assert tagging
    for statement in tagging:
        assert statement["Resource"] == [{"Fn::Sub": "${ItemsBucket.Arn}/items/*"}], statement


@pytest.mark.parametrize("history", [False, True], ids=["plain", "history"])
def test_the_stream_consumer_may_do_exactly_what_upkeep_does(
    make_stack, template, lambda_context, hooks, history
):
    """Record every call the consumer makes on attachments and on the table, over writes that
    need each of them (a replay after a delete: the commit that finds its object gone), and
    compare with its policy in that mode."""
    stack = make_stack(**({"SortKeyName": "timestamp"} if history else {}))
    world = _world(stack, template, lambda_context)
    used: set[str] = set()

    def record(params: dict, model: Any, **_: Any) -> None:
        if model.name != "PutObject" or params["Key"].startswith(attachments.PREFIX + "/"):
            used.add(f"{model.service_model.signing_name}:{model.name}")

    create(world.context, {"id": ITEM, "file_content": "one"})
    assert put(world.context, ITEM, '{"file_content": "two"}').status == 200
    assert patch(world.context, ITEM, '{"file_content": null}').status == 200
    assert delete(world.context, ITEM).status == 204
    records = world.records()
    hooks("before-parameter-build.s3", record)
    hooks("before-parameter-build.dynamodb", record)
    assert world.consume(records) == []
    assert world.consume(records) == []  # the replay

    attachment_calls = {c for c in used if c.startswith("s3:")}
    assert attachment_calls == _actions(template, "stream_audit", stack.parameters.get(
        "SortKeyName", ""), "Attachments")  # fmt: skip
    table_calls = {c for c in used if c.startswith("dynamodb:")}
    sort_key = stack.parameters.get("SortKeyName", "")
    assert table_calls == _actions(template, "stream_audit", sort_key, "Table")
