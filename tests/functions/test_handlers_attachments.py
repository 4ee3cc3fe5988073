"""Attachments: `file_content` in a POST/PUT body goes to the bucket under items/<id>/, the item
holds only its key, GET reads it back. Against the template's own table and bucket on moto."""

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests import handler_client
from tests.handler_client import (
    GENERIC_500,
    all_items,
    assert_refused,
    create,
    delete,
    get,
    head_key,
    list_page,
    post,
    put,
    stored,
)

SECRET = "arn:aws:s3:::secret-bucket-name"


@pytest.fixture
def stack(make_stack):
    return make_stack()


def objects(bucket: Any) -> dict[str, str]:
    return {o.key: o.get()["Body"].read().decode() for o in bucket.objects.all()}


def test_an_attachment_round_trips_through_the_bucket(stack, lambda_context):
    created = create(lambda_context, {"id": "f", "v": 1, "file_content": "first ✓"})
    assert created["file_content"] == "first ✓" and "file_key" not in created
    row = stored(stack.table, "f")
    assert "file_content" not in row
    first_key = row["file_key"]
    assert first_key.startswith("items/f/")
    assert objects(stack.bucket) == {first_key: "first ✓"}
    assert get(lambda_context, "f").body == created

    updated = put(lambda_context, "f", json.dumps({"v": 2, "file_content": "second"}))
    assert (updated.status, updated.body["file_content"]) == (200, "second")
    second_key = stored(stack.table, "f")["file_key"]
    assert second_key.startswith("items/f/") and second_key != first_key  # never reused
    assert get(lambda_context, "f").body == updated.body

    dropped = put(lambda_context, "f", '{"v": 3}')  # replace semantics: no content, no file
    assert "file_content" not in dropped.body
    assert "file_key" not in stored(stack.table, "f")
    assert get(lambda_context, "f").body == dropped.body
    # the replaced objects stay (update_item may not delete objects) until the stream consumer
    # deletes them (tests/functions/test_attachment_consistency.py); nothing references them
    assert set(objects(stack.bucket)) == {first_key, second_key}


def test_plain_delete_removes_the_current_object(stack, lambda_context):
    create(lambda_context, {"id": "d", "file_content": "x"})
    create(lambda_context, {"id": "other", "file_content": "y"})
    key = stored(stack.table, "d")["file_key"]
    assert delete(lambda_context, "d").status == 204
    assert key not in objects(stack.bucket)
    assert list(objects(stack.bucket).values()) == ["y"]


def test_an_empty_attachment_is_an_attachment(stack, lambda_context):
    create(lambda_context, {"id": "e", "file_content": ""})
    assert get(lambda_context, "e").body["file_content"] == ""


def test_the_largest_body_may_be_all_attachment(stack, lambda_context):
    prefix, suffix = '{"id": "big", "file_content": "', '"}'
    body = prefix + "x" * (handler_client.MAX_BODY - len(prefix) - len(suffix)) + suffix
    assert post(lambda_context, body).status == 201
    assert len(get(lambda_context, "big").body["file_content"]) > 65_000


def test_listings_carry_neither_content_nor_key(stack, lambda_context):
    create(lambda_context, {"id": "l", "file_content": "content"})
    (item,) = list_page(lambda_context).body["items"]
    assert "file_content" not in item and "file_key" not in item


@pytest.mark.parametrize(
    "body",
    [
        '{"file_key": "items/x/y"}',
        '{"file_content": 5}',
        '{"file_content": null}',
        '{"file_content": {"a": 1}}',
        '{"file_content": ["a"]}',
    ],
)
def test_bad_attachment_fields_are_refused(stack, lambda_context, body):
    assert_refused(lambda_context, body, put_to="p")
    assert objects(stack.bucket) == {}


def _raise_s3_error(**kwargs: Any) -> None:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": SECRET}}, kwargs["model"].name)


@pytest.mark.parametrize(
    "request_",
    [
        lambda c: post(c, '{"id": "s3", "file_content": "x"}'),
        lambda c: put(c, "a", '{"file_content": "x"}'),
        lambda c: get(c, "a"),
    ],
    ids=["create", "update", "get"],
)  # a DELETE whose object S3 will not delete is a 204: test_attachment_consistency.py
def test_s3_failures_are_a_generic_500_and_logged(
    stack, lambda_context, dynamodb_hooks, fresh_logger, capsys, request_
):
    create(lambda_context, {"id": "a", "v": 1, "file_content": "kept"})
    dynamodb_hooks("before-call.s3", _raise_s3_error)
    reply = request_(lambda_context)
    assert (reply.status, reply.body) == (500, GENERIC_500)
    logged = capsys.readouterr().out
    assert "unhandled error" in logged and SECRET in logged
    assert stored(stack.table, "s3") is None  # a failed upload stores no item


def test_a_failed_upload_leaves_the_item_as_it_was(stack, lambda_context, dynamodb_hooks):
    before = create(lambda_context, {"id": "a", "v": 1, "file_content": "kept"})
    dynamodb_hooks("before-call.s3.PutObject", _raise_s3_error)
    assert put(lambda_context, "a", '{"v": 2, "file_content": "new"}').status == 500
    assert [i["id"] for i in all_items(stack.table)] == ["a"]
    assert get(lambda_context, "a").body == before


def test_a_missing_object_is_a_logged_500(stack, lambda_context, fresh_logger, capsys):
    create(lambda_context, {"id": "m", "file_content": "gone soon"})
    key = stored(stack.table, "m")["file_key"]
    stack.bucket.Object(key).delete()
    reply = get(lambda_context, "m")
    assert (reply.status, reply.body) == (500, GENERIC_500)
    logged = capsys.readouterr().out
    assert "unhandled error" in logged and key in logged and "MissingAttachment" in logged
    assert key not in reply.raw


# A GET racing a write (#16 item 8): the row read, then the row and its object changed before
# the object is read. The hook plays the other request through the stack's own clients, once,
# just before our GetObject goes out.


def _once(action) -> Any:
    done: list[bool] = []

    def hook(**kwargs: Any) -> None:
        if not done:
            done.append(True)
            action(**kwargs)

    return hook


def _access_denied(**kwargs: Any) -> None:
    """What S3 answers a reader without s3:ListBucket for a key that does not exist."""
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                      kwargs["model"].name)  # fmt: skip


@pytest.mark.parametrize("answer", ["NoSuchKey", "AccessDenied"])
def test_a_get_racing_a_delete_is_a_404(stack, lambda_context, dynamodb_hooks, answer):
    create(lambda_context, {"id": "r", "file_content": "about to go"})
    key = stored(stack.table, "r")["file_key"]

    def deleted_meanwhile(**kwargs: Any) -> None:
        stack.table.delete_item(Key=head_key(stack, "r"))
        stack.bucket.Object(key).delete()
        if answer == "AccessDenied":
            _access_denied(**kwargs)

    dynamodb_hooks("before-call.s3.GetObject", _once(deleted_meanwhile))
    reply = get(lambda_context, "r")
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_a_get_racing_a_replace_serves_the_new_attachment(stack, lambda_context, dynamodb_hooks):
    create(lambda_context, {"id": "n", "file_content": "old"})
    old = stored(stack.table, "n")["file_key"]

    def replaced_meanwhile(**_: Any) -> None:
        assert put(lambda_context, "n", '{"file_content": "new"}').status == 200
        stack.bucket.Object(old).delete()

    dynamodb_hooks("before-call.s3.GetObject", _once(replaced_meanwhile))
    reply = get(lambda_context, "n")
    assert (reply.status, reply.body["file_content"]) == (200, "new")
