"""PATCH /items/{id}: a JSON merge patch (RFC 7386) of an existing item, in plain and history
mode alike: objects merge, null removes, anything else replaces; the same body rules as PUT, and
the merged item must still be one a PUT could write."""

import json
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from tests.handler_client import (
    MAX_BODY,
    SERVER_FIELDS,
    all_items,
    bad_bodies,
    concurrent_writer,
    create,
    get,
    head_key,
    history,
    patch,
)


def head(stack: Any, item_id: str) -> dict:
    key = head_key(stack, item_id)
    row = stack.table.get_item(Key=key, ConsistentRead=True)["Item"]
    return {k: v for k, v in row.items() if k != "timestamp"}


def row_count(stack: Any, item_id: str) -> int:
    found = stack.table.query(KeyConditionExpression=Key("id").eq(item_id), ConsistentRead=True)
    return found["Count"]


def attributes(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in (*SERVER_FIELDS, "id")}


MERGES = [
    # (id, the item's attributes, the patch, the attributes after)
    ("add", {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("replace", {"a": 1}, {"a": "x"}, {"a": "x"}),
    (
        "nested-merge",
        {"o": {"x": 1, "y": 2}},
        {"o": {"y": 3, "z": 4}},
        {"o": {"x": 1, "y": 3, "z": 4}},
    ),
    ("null-removes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("nested-null-removes", {"o": {"x": 1, "y": 2}}, {"o": {"x": None}}, {"o": {"y": 2}}),
    ("null-on-missing-is-a-no-op", {"a": 1}, {"zz": None}, {"a": 1}),
    ("nested-null-on-missing", {"a": 1}, {"o": {"x": None, "y": 1}}, {"a": 1, "o": {"y": 1}}),
    ("object-over-scalar", {"a": 1}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    ("scalar-over-object", {"o": {"x": 1}}, {"o": 5}, {"o": 5}),
    ("arrays-replace-whole", {"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
    ("nulls-in-arrays-are-values", {}, {"l": [None, 1]}, {"l": [None, 1]}),
    ("false-and-zero-are-values", {"a": 1, "b": 2}, {"a": False, "b": 0}, {"a": False, "b": 0}),
    ("empty-patch", {"a": 1}, {}, {"a": 1}),
    ("the-path-id", {"a": 1}, {"id": "p", "a": 2}, {"a": 2}),
    ("remove-everything", {"a": 1, "b": {"c": 2}}, {"a": None, "b": None}, {}),
    (
        "names-are-data",
        {"a.b": 1, "#x": 2, "SET": 3},
        {"a.b": None, "#x": {":v": 1}, "REMOVE x": 4},
        {"#x": {":v": 1}, "SET": 3, "REMOVE x": 4},
    ),
]


@pytest.mark.parametrize(
    ("before", "changes", "after"), [m[1:] for m in MERGES], ids=[m[0] for m in MERGES]
)
def test_patch_merges(stack, lambda_context, before, changes, after):
    created = create(lambda_context, {"id": "p", **before})
    reply = patch(lambda_context, "p", json.dumps(changes))
    assert reply.status == 200, reply.raw
    assert attributes(reply.body) == after
    assert reply.body["id"] == "p" and reply.body["created_at"] == created["created_at"]
    assert reply.body["updated_at"] > created["updated_at"]
    assert (reply.body["version"], reply.headers["ETag"]) == (2, '"2"')
    assert get(lambda_context, "p").body == reply.body
    assert attributes(head(stack, "p")) == after
    if history(stack):
        assert row_count(stack, "p") == 3  # the head and a version row per write


def test_patch_accepts_the_merge_patch_media_type(stack, lambda_context):
    create(lambda_context, {"id": "p", "a": 1})
    reply = patch(
        lambda_context, "p", '{"b": 2}', headers={"Content-Type": "application/merge-patch+json"}
    )
    assert (reply.status, attributes(reply.body)) == (200, {"a": 1, "b": 2})


# -- file_content --------------------------------------------------------------------------------


def test_patch_sets_keeps_and_removes_the_attachment(stack, lambda_context):
    create(lambda_context, {"id": "f", "a": 1})

    def objects() -> list[str]:
        return sorted(o.key for o in stack.bucket.objects.all())

    first = patch(lambda_context, "f", '{"file_content": "one ✓"}')
    assert (first.status, first.body["file_content"]) == (200, "one ✓")
    assert get(lambda_context, "f").body["file_content"] == "one ✓"
    assert len(objects()) == 1 and "file_key" not in first.body

    kept = patch(lambda_context, "f", '{"a": 2}')  # absent: the attachment stays
    assert kept.status == 200 and "file_content" not in kept.body  # not read back
    assert get(lambda_context, "f").body == {**kept.body, "file_content": "one ✓"}

    second = patch(lambda_context, "f", '{"file_content": "two"}')
    assert get(lambda_context, "f").body["file_content"] == "two"
    assert len(objects()) == 2 and second.body["version"] == 4

    removed = patch(lambda_context, "f", '{"file_content": null}')
    assert removed.status == 200 and "file_content" not in removed.body
    assert get(lambda_context, "f").body == removed.body
    assert "file_key" not in head(stack, "f")
    assert len(objects()) == 2  # patch_item may not delete objects: they stay, unreferenced


def test_patch_removing_a_missing_attachment_is_a_no_op(stack, lambda_context):
    create(lambda_context, {"id": "f", "a": 1})
    reply = patch(lambda_context, "f", '{"file_content": null}')
    assert (reply.status, attributes(reply.body)) == (200, {"a": 1})


# -- bad patches change nothing ----------------------------------------------------------------


# Every body POST and PUT refuse (handler_client.BAD_BODIES), and a body id other than the
# path's, which PUT refuses too (test_handlers.py) but a POST would create.
@bad_bodies(("id-other", '{"id": "other"}', 400, "INVALID_ID"))
def test_patch_refuses_bad_bodies_and_changes_nothing(stack, lambda_context, body, status, code):
    before = create(lambda_context, {"id": "p", "a": 1, "o": {"x": 1}})
    reply = patch(lambda_context, "p", body)
    assert (reply.status, reply.error_code) == (status, code)
    assert get(lambda_context, "p").body == before
    assert stored_count(stack) == (2 if history(stack) else 1)


def stored_count(stack: Any) -> int:
    return len(all_items(stack.table))


def test_patch_refuses_the_table_key_names(make_stack, lambda_context):
    make_stack(SortKeyName="timestamp", PartitionKeyName="itemId")
    before = create(lambda_context, {"id": "p", "a": 1})
    for body in ('{"timestamp": null}', '{"itemId": "x"}', '{"deleted_at": null}'):
        reply = patch(lambda_context, "p", body)
        assert (reply.status, reply.error_code) == (400, "INVALID_ITEM"), body
    assert get(lambda_context, "p").body == before


def test_the_merged_item_must_not_have_too_many_attributes(stack, lambda_context):
    before = create(lambda_context, {"id": "w", **{f"a{i}": i for i in range(60)}})
    reply = patch(lambda_context, "w", json.dumps({f"b{i}": i for i in range(41)}))
    assert (reply.status, reply.error_code) == (400, "INVALID_ITEM")
    assert reply.body["error"]["message"] == "an item may have at most 100 attributes"
    assert get(lambda_context, "w").body == before
    # exactly 100, or fewer after removals, is fine
    reply = patch(lambda_context, "w", json.dumps({f"b{i}": i for i in range(40)}))
    assert reply.status == 200 and len(attributes(reply.body)) == 100
    swap = {**{f"a{i}": None for i in range(10)}, **{f"c{i}": i for i in range(10)}}
    assert patch(lambda_context, "w", json.dumps(swap)).status == 200


def test_the_merged_item_must_not_grow_past_a_bodys_size(stack, lambda_context):
    half = "x" * (MAX_BODY // 2)
    before = create(lambda_context, {"id": "big", "a": half})
    reply = patch(lambda_context, "big", json.dumps({"b": half}))
    assert (reply.status, reply.error_code) == (413, "PAYLOAD_TOO_LARGE")  # as a PUT of it
    assert get(lambda_context, "big").body == before
    replaced = patch(lambda_context, "big", json.dumps({"a": None, "b": half}))
    assert replaced.status == 200 and attributes(replaced.body) == {"b": half}


def test_a_patch_s_file_content_counts_toward_the_size(stack, lambda_context):
    """60 kB of attributes plus a 60 kB file_content patch was answered 200 (#16 item 12): a
    PUT of the merged item would be refused, so the PATCH is, and nothing is written."""
    half = "x" * (MAX_BODY // 2)
    before = create(lambda_context, {"id": "att", "a": half})
    reply = patch(lambda_context, "att", json.dumps({"file_content": half}))
    assert (reply.status, reply.error_code) == (413, "PAYLOAD_TOO_LARGE")
    assert get(lambda_context, "att").body == before
    assert "file_key" not in get(lambda_context, "att").body
    small = patch(lambda_context, "att", json.dumps({"file_content": "small"}))
    assert small.status == 200 and small.body["file_content"] == "small"


def test_a_patch_may_reach_the_deepest_level(stack, lambda_context):
    deep = {"a": {"b": [[[]]]}}
    for _ in range(27):  # the item and 31 nested containers: DynamoDB's 32 levels
        deep = {"n": deep}
    create(lambda_context, {"id": "d", **deep})
    leaf = {"a": {"c": [[[]]]}}
    for _ in range(27):
        leaf = {"n": leaf}
    reply = patch(lambda_context, "d", json.dumps(leaf))
    assert reply.status == 200, reply.raw
    inner = reply.body
    for _ in range(27):
        inner = inner["n"]
    assert inner == {"a": {"b": [[[]]], "c": [[[]]]}}


def test_patch_of_a_missing_item_is_404_and_creates_nothing(stack, lambda_context):
    reply = patch(lambda_context, "ghost", '{"a": 1}')
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")
    assert all_items(stack.table) == []
    assert list(stack.bucket.objects.all()) == []


def test_patch_of_a_missing_item_writes_no_attachment(stack, lambda_context):
    reply = patch(lambda_context, "ghost", '{"file_content": "x"}')
    assert reply.status == 404
    assert list(stack.bucket.objects.all()) == []


@pytest.mark.parametrize(("races", "status"), [(0, 200), (2, 200), (3, 409)])
def test_patch_merges_into_what_won_a_race_then_gives_409(
    stack, lambda_context, dynamodb_hooks, races, status
):
    create(lambda_context, {"id": "race", "v": 0, "keep": "k"})
    key = head_key(stack, "race")
    operation = "TransactWriteItems" if history(stack) else "UpdateItem"
    dynamodb_hooks(f"before-call.dynamodb.{operation}", concurrent_writer(stack.table, key, races))
    reply = patch(lambda_context, "race", '{"v": 1}')
    assert reply.status == status
    if status == 200:  # merged into the other writer's state, not the one first read
        assert attributes(reply.body) == {"v": 1, "keep": "k", **({"winner": 1} if races else {})}
        assert reply.body["version"] == 2 + races
    else:
        assert reply.error_code == "CONFLICT"
        assert head(stack, "race")["v"] == 0
