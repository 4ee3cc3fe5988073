"""POST /items with an Idempotency-Key: at most one item per key (items_common/idempotency.py). A
retry with the same body answers the first 201 again, another body is 422, a request while the
first is in progress is 409; errors are not remembered, so a corrected retry runs afresh."""

import json
import os
import time
from typing import Any

import boto3
import pytest

from tests.handler_client import (
    GENERIC_500,
    all_items,
    create,
    delete,
    get,
    invoke,
    post,
    put,
    raise_client_error,
    raise_throttle,
)
from tests.handlers import api_event

DAY = 24 * 60 * 60


def items(stack: Any) -> list[dict]:
    """The items' current rows (history mode: the heads)."""
    return [r for r in all_items(stack.table) if r.get("timestamp", 0) == 0]


def records() -> list[dict]:
    table = boto3.resource("dynamodb").Table(os.environ["IDEMPOTENCY_TABLE"])
    return table.scan(ConsistentRead=True)["Items"]


def keyed(context: Any, body: str | None, key: str, name: str = "Idempotency-Key"):
    return post(context, body, headers={name: key})


@pytest.mark.parametrize("body", ['{"name": "no id"}', '{"id": "given", "name": "x"}'])
def test_a_retry_answers_the_first_response(stack, lambda_context, body):
    first = keyed(lambda_context, body, "key-1")
    assert first.status == 201
    again = [keyed(lambda_context, body, "key-1") for _ in range(3)]
    assert [r.status for r in again] == [201] * 3
    assert all(r.raw == first.raw for r in again)  # the same drawn id, timestamps, version
    assert all(r.headers["ETag"] == first.headers["ETag"] == '"1"' for r in again)
    assert [i["id"] for i in items(stack)] == [first.body["id"]]
    (record,) = records()
    assert record["status"] == "COMPLETED"
    assert abs(int(record["expiration"]) - (time.time() + DAY)) < 60  # kept for 24 hours


# The key guards the JSON value, not its text: spacing, member order and the spelling of a
# number are not a different body.
@pytest.mark.parametrize(
    ("first", "again"),
    [
        ('{"a": 1, "b": [1, 2]}', '{ "b" : [1,2],\n "a":1 }'),
        ('{"n": 10, "h": 0.5}', '{"n": 1E+1, "h": 5e-1}'),
    ],
    ids=["written-differently", "numbers-spelled-two-ways"],
)
def test_the_same_body_written_differently_is_the_same_body(stack, lambda_context, first, again):
    created = keyed(lambda_context, first, "k")
    retried = keyed(lambda_context, again, "k")
    assert (retried.status, retried.raw) == (201, created.raw)
    assert len(items(stack)) == 1


def test_the_first_response_even_after_the_item_changed(stack, lambda_context):
    first = keyed(lambda_context, '{"id": "c", "v": 1}', "k")
    assert delete(lambda_context, "c").status == 204
    again = keyed(lambda_context, '{"id": "c", "v": 1}', "k")
    assert (again.status, again.raw) == (201, first.raw)
    assert items(stack) == [] or all("deleted_at" in i for i in items(stack))


@pytest.mark.parametrize(
    "other",
    ['{"name": "other"}', '{"name": "no id", "id": "x"}', "{}", '{"name": "no id", "n": null}'],
)
def test_the_same_key_with_another_body_is_422(stack, lambda_context, other):
    first = keyed(lambda_context, '{"name": "no id"}', "k")
    reply = keyed(lambda_context, other, "k")
    assert (reply.status, reply.error_code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert [i["id"] for i in items(stack)] == [first.body["id"]]


# A number and a string that reads the same are different bodies (#16 item 5): Powertools' own
# payload hash turns Decimals into strings, so it matched them.
@pytest.mark.parametrize(
    ("first", "other"),
    [('{"n": 1}', '{"n": "1"}'), ('{"n": 10}', '{"n": "1E+1"}'),
     ('{"n": 0.5}', '{"n": "0.5"}'), ('{"n": "1"}', '{"n": 1}')],
)  # fmt: skip
def test_a_number_and_a_string_are_different_bodies(stack, lambda_context, first, other):
    created = keyed(lambda_context, first, "k")
    assert created.status == 201
    reply = keyed(lambda_context, other, "k")
    assert (reply.status, reply.error_code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert [i["id"] for i in items(stack)] == [created.body["id"]]


def test_different_keys_are_different_creations(stack, lambda_context):
    replies = [keyed(lambda_context, '{"name": "same"}', f"k{i}") for i in range(3)]
    assert [r.status for r in replies] == [201] * 3
    assert len({r.body["id"] for r in replies}) == 3 == len(items(stack))


def test_without_the_header_post_is_not_idempotent(stack, lambda_context):
    create(lambda_context, {"id": "dup"})
    reply = post(lambda_context, '{"id": "dup"}')
    assert (reply.status, reply.error_code) == (409, "CONFLICT")
    assert [post(lambda_context, '{"n": 1}').status for _ in range(2)] == [201, 201]
    assert len(items(stack)) == 3
    assert records() == []


@pytest.mark.parametrize("name", ["idempotency-key", "IDEMPOTENCY-KEY", "Idempotency-Key"])
def test_the_header_name_is_case_insensitive(stack, lambda_context, name):
    first = keyed(lambda_context, '{"n": 1}', "k", name)
    again = keyed(lambda_context, '{"n": 1}', "k", "idempotency-KEY")
    assert (first.status, again.raw) == (201, first.raw)


@pytest.mark.parametrize(
    "key", ["a", "x" * 128, "A.b_c-9:z", "550e8400-e29b-41d4-a716-446655440000"]
)
def test_good_keys(stack, lambda_context, key):
    assert keyed(lambda_context, "{}", key).status == 201


@pytest.mark.parametrize("key", ["", " ", "x" * 129, "a b", "ü", "a/b", "a,b", "*", "k\n"])
def test_bad_keys_are_400_and_create_nothing(stack, lambda_context, key):
    reply = keyed(lambda_context, '{"id": "never"}', key)
    assert (reply.status, reply.error_code) == (400, "INVALID_IDEMPOTENCY_KEY")
    assert items(stack) == [] and records() == []


# -- errors are not remembered -------------------------------------------------------------------


def test_a_refused_body_leaves_the_key_free(stack, lambda_context):
    bad = keyed(lambda_context, '{"id": "ok", "version": 3}', "k")
    assert (bad.status, bad.error_code) == (400, "INVALID_ITEM")
    assert records() == []
    fixed = keyed(lambda_context, '{"id": "ok"}', "k")
    assert fixed.status == 201
    assert keyed(lambda_context, '{"id": "ok"}', "k").raw == fixed.raw


def test_a_409_is_not_remembered(stack, lambda_context):
    create(lambda_context, {"id": "taken"})
    conflict = keyed(lambda_context, '{"id": "taken", "v": 2}', "k")
    assert (conflict.status, conflict.error_code) == (409, "CONFLICT")
    assert records() == []  # the in-progress record was dropped
    assert delete(lambda_context, "taken").status == 204
    retry = keyed(lambda_context, '{"id": "taken", "v": 2}', "k")
    assert (retry.status, retry.body["v"]) == (201, 2)


def test_an_aws_failure_is_a_500_and_not_remembered(
    stack, lambda_context, dynamodb_hooks, monkeypatch
):
    failing = {"on": True}
    tables: list[str] = []

    def fail_the_items_write(**kwargs: Any) -> None:
        tables.append(kwargs["params"].get("TableName"))
        if failing["on"] and tables[-1] != os.environ["IDEMPOTENCY_TABLE"]:
            raise_client_error(**kwargs)

    # before-parameter-build: its params are the API's, with the TableName to tell them apart
    dynamodb_hooks("before-parameter-build.dynamodb.PutItem", fail_the_items_write)
    dynamodb_hooks("before-parameter-build.dynamodb.TransactWriteItems", fail_the_items_write)
    reply = keyed(lambda_context, '{"id": "later"}', "k")
    assert (reply.status, reply.body) == (500, GENERIC_500)
    assert items(stack) == [] and records() == []  # written in progress, then dropped
    assert tables[0] == os.environ["IDEMPOTENCY_TABLE"]  # the in-progress record came first
    failing["on"] = False
    assert keyed(lambda_context, '{"id": "later"}', "k").status == 201


def test_a_request_while_the_first_is_in_progress_is_409(stack, lambda_context, dynamodb_hooks):
    """The second request arrives while the first is between its in-progress record and its
    write of the item (played from a hook on that write)."""
    seen: list[Any] = []
    body = '{"id": "slow"}'

    def second_request(**kwargs: Any) -> None:
        if kwargs["params"].get("TableName") == os.environ["IDEMPOTENCY_TABLE"] or seen:
            return
        seen.append(None)
        seen.append(keyed(lambda_context, body, "k"))

    dynamodb_hooks("before-parameter-build.dynamodb.PutItem", second_request)
    dynamodb_hooks("before-parameter-build.dynamodb.TransactWriteItems", second_request)
    first = keyed(lambda_context, body, "k")
    second = seen[1]
    assert (second.status, second.error_code) == (409, "CONFLICT")
    assert first.status == 201
    assert keyed(lambda_context, body, "k").raw == first.raw
    assert len(items(stack)) == 1


def test_a_direct_invocation_is_held_to_the_same_rules(stack, lambda_context):
    event = api_event("POST", "/items", body='{"n": 1}', headers={"Idempotency-Key": "d"})
    first = invoke("create_item", event, lambda_context)
    assert invoke("create_item", json.loads(json.dumps(event)), lambda_context).raw == first.raw


def throttle_on(table: str, operation: str, times: int | None = None) -> Any:
    """A hook failing `operation` on `table` with a throttle (the first `times` calls, or all),
    as DynamoDB does once botocore's retries are spent; the list of calls it saw."""
    calls: list[int] = []

    def hook(**kwargs: Any) -> None:
        if kwargs["params"].get("TableName") != table:
            return
        calls.append(len(calls))
        if times is None or len(calls) <= times:
            raise_throttle(**kwargs)

    hook.calls = calls  # type: ignore[attr-defined]
    return hook


def expire_in_progress(key_record: dict) -> None:
    """Move a record's in-progress expiry into the past: the invocation that wrote it is over.
    (A session of its own: the handlers' session carries the test's fault hooks.)"""
    table = boto3.Session().resource("dynamodb").Table(os.environ["IDEMPOTENCY_TABLE"])
    table.update_item(
        Key={"id": key_record["id"]},
        UpdateExpression="SET in_progress_expiration = :past",
        ExpressionAttributeValues={":past": int(time.time() * 1000) - 1},
    )


@pytest.mark.parametrize("body", ['{"name": "no id"}', '{"id": "given", "name": "x"}'])
@pytest.mark.parametrize("retry_after", ["in-progress", "invocation-ended"])
def test_one_item_per_key_when_the_record_never_completed(
    stack, lambda_context, dynamodb_hooks, body, retry_after
):
    """#16 item 4. The item is written, then Powertools' update that marks the record COMPLETED
    is throttled: the record stays INPROGRESS. The request still answers its 201 (the item
    exists), and a retry, while the record is in progress or after its invocation ended,
    answers that same 201: the token on the item ties it to the key. Never a second item, never
    a 409."""
    hook = throttle_on(os.environ["IDEMPOTENCY_TABLE"], "UpdateItem")
    dynamodb_hooks("before-parameter-build.dynamodb.UpdateItem", hook)
    first = keyed(lambda_context, body, "k")
    assert first.status == 201 and hook.calls  # the record's update was tried, and failed
    (record,) = records()
    assert record["status"] == "INPROGRESS"
    if retry_after == "invocation-ended":
        expire_in_progress(record)
    again = keyed(lambda_context, body, "k")
    assert (again.status, again.raw) == (201, first.raw)
    assert again.headers["ETag"] == first.headers["ETag"]
    assert [i["id"] for i in items(stack)] == [first.body["id"]]


def test_the_first_201_even_after_the_item_changed_and_the_record_was_lost(
    stack, lambda_context, dynamodb_hooks
):
    """The token survives later writes (PUT keeps it, never shows it), so the retry still finds
    the first creation and answers it as it was."""
    hook = throttle_on(os.environ["IDEMPOTENCY_TABLE"], "UpdateItem")
    dynamodb_hooks("before-parameter-build.dynamodb.UpdateItem", hook)
    first = keyed(lambda_context, '{"n": 1}', "k")
    item_id = first.body["id"]
    changed = put(lambda_context, item_id, '{"n": 2}')
    assert changed.status == 200 and "idempotency_token" not in changed.body
    expire_in_progress(records()[0])
    again = keyed(lambda_context, '{"n": 1}', "k")
    assert (again.status, again.raw) == (201, first.raw)
    assert get(lambda_context, item_id).body["n"] == 2  # nothing written again


@pytest.mark.parametrize("other", ["another key", "no key"])
def test_an_id_made_by_another_creation_is_still_409(stack, lambda_context, other):
    """Only the creation the token names is replayed: the same body under another key (or an
    item made without one) is someone else's item."""
    first = keyed(lambda_context, '{"id": "mine"}', "k1")
    assert first.status == 201
    retry = (
        keyed(lambda_context, '{"id": "mine"}', "k2")
        if other == "another key"
        else post(lambda_context, '{"id": "mine"}')
    )
    assert (retry.status, retry.error_code) == (409, "CONFLICT")


def test_clients_cannot_see_or_write_the_token(stack, lambda_context):
    first = keyed(lambda_context, '{"n": 1}', "k")
    assert "idempotency_token" not in first.body
    (row,) = items(stack)
    assert "idempotency_token" in row
    forged = post(lambda_context, '{"idempotency_token": "x"}')
    assert (forged.status, forged.error_code) == (400, "INVALID_ITEM")


@pytest.mark.parametrize(("failures", "freed"), [(1, True), (None, False)])
def test_a_409_stands_when_its_record_cannot_be_dropped(
    stack, lambda_context, dynamodb_hooks, failures, freed
):
    """#16 item 6. The run is refused (409: the id exists) and Powertools' delete of the
    in-progress record is throttled. The client still gets the 409, not a 5xx. The record is
    deleted again here, so the key is usable at once; if that fails too, the record stays only
    until its invocation ends."""
    create(lambda_context, {"id": "taken"})
    hook = throttle_on(os.environ["IDEMPOTENCY_TABLE"], "DeleteItem", failures)
    dynamodb_hooks("before-parameter-build.dynamodb.DeleteItem", hook)
    conflict = keyed(lambda_context, '{"id": "taken", "v": 2}', "k")
    assert (conflict.status, conflict.error_code) == (409, "CONFLICT")
    assert len(hook.calls) >= 2  # Powertools' delete, then ours
    assert (records() == []) is freed
    if not freed:
        (record,) = records()
        assert record["status"] == "INPROGRESS"
        assert int(record["in_progress_expiration"]) <= (time.time() + 900) * 1000
