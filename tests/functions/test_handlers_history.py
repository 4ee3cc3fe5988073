"""History mode (SORT_KEY set): heads, versions, tombstones, and GET /items/{id}/versions; and
the versions route in plain mode. The handlers as API Gateway invokes them, on the template's
own table (moto), with the same helpers as test_handlers.py."""

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from tests import handler_client as api
from tests.handlers import api_event


@pytest.fixture(params=["id", "itemId"])
def history(make_stack, request):
    """A history-mode stack, with the default and a renamed partition key."""
    return make_stack(SortKeyName="timestamp", PartitionKeyName=request.param)


def versions(context: Any, item_id: str, query: dict | None = None) -> Any:
    event = api_event(
        "GET", f"/items/{item_id}/versions", path_parameters={"id": item_id}, query=query
    )
    return api.invoke("list_versions", event, context)


def rows_of(table: Any, item_id: str) -> list[dict]:
    """Every row of an id, head first, then versions oldest first."""
    (pk,) = [k["AttributeName"] for k in table.key_schema if k["KeyType"] == "HASH"]
    return table.query(KeyConditionExpression=Key(pk).eq(item_id), ConsistentRead=True)["Items"]


def head(table: Any, item_id: str) -> dict:
    return rows_of(table, item_id)[0]


def micros(stamp: str) -> int:
    """A timestamp in microseconds since the epoch: the sort key of its write's version row."""
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return (parsed - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _token(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _all_pages(fetch: Callable[[dict], Any], limit: int) -> tuple[list[dict], list[dict]]:
    """Every item of a listing page by page; also the page bodies."""
    seen: list[dict] = []
    bodies: list[dict] = []
    query: dict[str, str] = {"limit": str(limit)}
    for _ in range(50):
        reply = fetch(query)
        assert reply.status == 200, reply.raw
        bodies.append(reply.body)
        seen += reply.body["items"]
        assert reply.body["count"] == len(reply.body["items"]) <= limit
        if reply.body["next_token"] is None:
            return seen, bodies
        query = {"limit": str(limit), "next_token": reply.body["next_token"]}
    pytest.fail("pagination did not end")


# -- the lifecycle -----------------------------------------------------------------------------


def test_the_full_lifecycle_keeps_every_version(history, lambda_context):
    table = history.table
    sort_key = "timestamp"
    first = api.create(lambda_context, {"id": "h", "v": 1})
    assert sort_key not in first and "deleted_at" not in first
    second = api.put(lambda_context, "h", '{"v": 2, "extra": "x"}').body
    third = api.put(lambda_context, "h", '{"v": 3}').body
    assert third["created_at"] == first["created_at"] and "extra" not in third
    assert api.get(lambda_context, "h").body == third

    assert api.delete(lambda_context, "h").status == 204
    assert api.get(lambda_context, "h").status == 404
    assert [api.put(lambda_context, "h", "{}").status, api.delete(lambda_context, "h").status] == [
        404,
        404,
    ]
    tombstone = head(table, "h")
    assert tombstone[sort_key] == 0 and tombstone["deleted_at"] == tombstone["updated_at"]

    listing = versions(lambda_context, "h").body
    assert listing["count"] == 4 and listing["next_token"] is None
    newest_first = listing["items"]
    assert [v.get("v") for v in newest_first] == [None, 3, 2, 1]
    assert [v["deleted"] for v in newest_first] == [True, False, False, False]
    # the item's own version numbers, newest first: the tombstone is the fourth write
    assert [v["version"] for v in newest_first] == [4, 3, 2, 1]
    assert [first["version"], second["version"], third["version"]] == [1, 2, 3]
    assert all(sort_key not in v and v["id"] == "h" for v in newest_first)
    for entry, state in zip(newest_first[1:], [third, second, first], strict=True):
        assert entry == {**state, "deleted": False}
    # the rows: one head and four versions, keyed by their writes' times (increasing), each
    # holding its version number
    stored = rows_of(table, "h")
    sort_keys = [r[sort_key] for r in stored]
    assert sort_keys[0] == 0 and sort_keys[1:] == sorted(set(sort_keys[1:])) and len(stored) == 5
    assert sort_keys[1:] == [micros(s["updated_at"]) for s in (first, second, third, tombstone)]
    assert [r["version"] for r in stored] == [4, 1, 2, 3, 4]

    again = api.post(lambda_context, '{"id": "h", "v": "again"}')
    assert again.status == 201 and again.body["created_at"] > first["created_at"]
    assert api.get(lambda_context, "h").body == again.body
    listing = versions(lambda_context, "h").body
    assert listing["count"] == 5 and listing["items"][0]["v"] == "again"
    # a new life counts its writes again from 1; the listing stays in write order
    assert [v["version"] for v in listing["items"]] == [1, 4, 3, 2, 1]
    assert again.body["version"] == 1 and again.headers["ETag"] == '"1"'


def test_create_on_a_live_id_is_409_and_changes_nothing(history_table, lambda_context):
    original = api.create(lambda_context, {"id": "dup", "v": 1})
    reply = api.post(lambda_context, '{"id": "dup", "v": 2}')
    assert (reply.status, reply.error_code) == (409, "CONFLICT")
    assert api.get(lambda_context, "dup").body == original
    assert len(rows_of(history_table, "dup")) == 2


def test_a_tombstone_from_a_clock_ahead_is_409_not_a_version_out_of_order(
    history_table, lambda_context
):
    stamp = "2999-01-01T00:00:00.000000Z"
    history_table.put_item(
        Item={"id": "future", "timestamp": 0, "updated_at": stamp, "deleted_at": stamp}
    )
    reply = api.post(lambda_context, '{"id": "future"}')
    assert (reply.status, reply.error_code) == (409, "CONFLICT")


@pytest.mark.parametrize("body", ['{"timestamp": 1}', '{"deleted_at": "x"}', '{"file_key": "k"}'])
def test_history_fields_are_not_body_attributes(history_table, lambda_context, body):
    api.assert_refused(lambda_context, body)


def test_history_keeps_attachments_of_deleted_items(make_stack, lambda_context):
    stack = make_stack(SortKeyName="timestamp")
    api.create(lambda_context, {"id": "a", "file_content": "one"})
    api.put(lambda_context, "a", '{"file_content": "two"}')
    assert api.get(lambda_context, "a").body["file_content"] == "two"
    assert api.delete(lambda_context, "a").status == 204
    contents = sorted(o.get()["Body"].read().decode() for o in stack.bucket.objects.all())
    assert contents == ["one", "two"]
    assert all("file_key" not in v for v in versions(lambda_context, "a").body["items"])


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.parametrize(("races", "lost"), [(0, False), (2, False), (3, True)])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_writes_retry_a_lost_race_then_give_409(
    history_table, lambda_context, dynamodb_hooks, method, races, lost
):
    api.create(lambda_context, {"id": "race", "v": 0})
    hook = api.concurrent_writer(history_table, {"id": "race", "timestamp": 0}, races)
    dynamodb_hooks("before-call.dynamodb.TransactWriteItems", hook)
    if method == "PUT":
        reply = api.put(lambda_context, "race", '{"v": 1}')
    else:
        reply = api.delete(lambda_context, "race")
    assert reply.status == (409 if lost else {"PUT": 200, "DELETE": 204}[method])
    current = head(history_table, "race")
    if lost:
        assert reply.error_code == "CONFLICT"
        assert current["v"] == 0 and "winner" in current and "deleted_at" not in current
        assert len(rows_of(history_table, "race")) == 2  # no version was added
    else:
        assert "winner" not in current
        assert len(rows_of(history_table, "race")) == 3


def test_an_item_deleted_meanwhile_is_404(history_table, lambda_context, dynamodb_hooks):
    api.create(lambda_context, {"id": "race", "v": 0})

    def concurrent_delete(**_: Any) -> None:
        history_table.update_item(
            Key={"id": "race", "timestamp": 0},
            UpdateExpression="SET deleted_at = :t, updated_at = :t",
            ExpressionAttributeValues={":t": "2030-01-01T00:00:00.000000Z"},
        )

    dynamodb_hooks("before-call.dynamodb.TransactWriteItems", concurrent_delete)
    reply = api.put(lambda_context, "race", '{"v": 1}')
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


# -- listing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_list_shows_live_heads_only_across_pages(history, lambda_context, limit):
    for i in range(6):
        api.create(lambda_context, {"id": f"i{i}", "i": i})
    api.put(lambda_context, "i0", '{"i": 10}')
    api.put(lambda_context, "i0", '{"i": 20}')
    api.delete(lambda_context, "i1")
    api.delete(lambda_context, "i2")
    api.post(lambda_context, '{"id": "i2", "i": 2}')  # started again
    seen, bodies = _all_pages(lambda q: api.list_page(lambda_context, q), limit)
    assert sorted(item["id"] for item in seen) == ["i0", "i2", "i3", "i4", "i5"]
    assert next(item for item in seen if item["id"] == "i0")["i"] == 20
    assert all(set(item) == {"id", "i", "created_at", "updated_at", "version"} for item in seen)
    assert next(item for item in seen if item["id"] == "i0")["version"] == 3
    assert next(item for item in seen if item["id"] == "i2")["version"] == 1
    for body in bodies[:-1]:  # every token is a two-attribute key
        key = json.loads(base64.urlsafe_b64decode(body["next_token"] + "=="))
        assert len(key) == 2 and isinstance(key["timestamp"], int)


@pytest.mark.parametrize(
    "key",
    [
        {"id": "a"},
        {"timestamp": 0},
        {"id": "a", "timestamp": "0"},
        {"id": "a", "timestamp": 1.5},
        {"id": "a", "timestamp": True},
        {"id": "a", "timestamp": -1},
        {"id": "a", "timestamp": 2**64},
        {"id": "", "timestamp": 0},
        {"id": "a", "timestamp": 0, "x": 1},
    ],
)
def test_list_refuses_tokens_that_are_not_a_history_key(history_table, lambda_context, key):
    reply = api.list_page(lambda_context, {"next_token": _token(key)})
    assert (reply.status, reply.error_code) == (400, "INVALID_TOKEN")


def test_list_accepts_a_well_formed_history_token(history_table, lambda_context):
    api.create(lambda_context, {"id": "a"})
    token = _token({"id": "zzz", "timestamp": 1_700_000_000_000_000})
    assert api.list_page(lambda_context, {"next_token": token}).status == 200


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_versions_page_newest_first(history_table, lambda_context, limit):
    api.create(lambda_context, {"id": "p", "n": 0})
    for n in range(1, 7):
        api.put(lambda_context, "p", json.dumps({"n": n}))
    api.create(lambda_context, {"id": "other"})
    seen, bodies = _all_pages(lambda q: versions(lambda_context, "p", q), limit)
    assert [v["n"] for v in seen] == [6, 5, 4, 3, 2, 1, 0]
    assert all(body["count"] == limit for body in bodies[:-1])  # a Query page is full
    assert all(api.TIMESTAMP.fullmatch(v["updated_at"]) for v in seen)


def test_versions_default_limit_is_50(history_table, lambda_context):
    api.create(lambda_context, {"id": "many", "n": 0})
    for n in range(1, 55):
        api.put(lambda_context, "many", json.dumps({"n": n}))
    first = versions(lambda_context, "many").body
    assert first["count"] == 50 and first["next_token"]
    rest = versions(lambda_context, "many", {"next_token": first["next_token"]}).body
    assert [v["n"] for v in first["items"] + rest["items"]] == list(range(54, -1, -1))


def test_versions_of_an_unknown_id_is_404(history_table, lambda_context):
    reply = versions(lambda_context, "nope")
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_a_versions_token_only_continues_its_own_item(history_table, lambda_context):
    for item_id in ("a", "b"):
        api.create(lambda_context, {"id": item_id})
        api.put(lambda_context, item_id, "{}")
    token = versions(lambda_context, "a", {"limit": "1"}).body["next_token"]
    assert versions(lambda_context, "a", {"next_token": token}).status == 200
    reply = versions(lambda_context, "b", {"next_token": token})
    assert (reply.status, reply.error_code) == (400, "INVALID_TOKEN")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "INVALID_LIMIT"),
        ({"limit": "101"}, "INVALID_LIMIT"),
        ({"next_token": "!"}, "INVALID_TOKEN"),
    ],
)
def test_versions_refuse_bad_queries(history_table, lambda_context, query, code):
    api.create(lambda_context, {"id": "q"})
    reply = versions(lambda_context, "q", query)
    assert (reply.status, reply.error_code) == (400, code)


def test_versions_bad_path_id_is_400(history_table, lambda_context):
    event = api_event("GET", "/items/x/versions", path_parameters={"id": "bad id"})
    reply = api.invoke("list_versions", event, lambda_context)
    assert (reply.status, reply.error_code) == (400, "INVALID_ID")


@pytest.mark.parametrize("mode", ["plain", "history"])
def test_versions_aws_failure_is_a_generic_500(make_stack, lambda_context, dynamodb_hooks, mode):
    make_stack(**({"SortKeyName": "timestamp"} if mode == "history" else {}))
    api.create(lambda_context, {"id": "boom"})
    dynamodb_hooks("before-call.dynamodb", api.raise_client_error)
    reply = versions(lambda_context, "boom")
    assert (reply.status, reply.body) == (500, api.GENERIC_500)


# -- the versions route in plain mode ----------------------------------------------------------


def test_plain_mode_lists_the_current_item_as_its_one_version(items_table, lambda_context):
    api.create(lambda_context, {"id": "one", "v": 1})
    current = api.put(lambda_context, "one", '{"v": 2}').body
    body = versions(lambda_context, "one").body
    assert body == {
        "items": [{**current, "deleted": False}],
        "count": 1,
        "next_token": None,
    }
    assert versions(lambda_context, "one", {"limit": "1"}).body == body
    assert current["version"] == 2


def test_plain_mode_versions_of_a_missing_item_is_404(items_table, lambda_context):
    reply = versions(lambda_context, "nope")
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_plain_mode_versions_issue_no_token_and_take_none(items_table, lambda_context):
    api.create(lambda_context, {"id": "one"})
    reply = versions(lambda_context, "one", {"next_token": _token({"id": "one"})})
    assert (reply.status, reply.error_code) == (400, "INVALID_TOKEN")


def test_versions_entries_are_valid_json_numbers(history_table, lambda_context):
    api.create(lambda_context, {"id": "n", "v": 0.1})
    reply = versions(lambda_context, "n")
    (entry,) = reply.exact["items"]
    assert entry["version"] == 1 and '"version":1' in reply.raw
