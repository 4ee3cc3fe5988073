"""The version contract, in plain and history mode alike: every item has an integer `version`
(1 on create, one more per write) sent as `ETag: "<n>"`; PUT, PATCH and DELETE take If-Match (or a
body `version`) as a precondition, 412 when stale with nothing written, 404 when missing, never
an upsert; 409 stays the answer to an existing id and to lost races without a precondition.
(items_common/dynamo.py documents the decision.)"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from moto.core.botocore_stubber import BotocoreStubber

from tests.handler_client import (
    SERVER_FIELDS,
    STATUSES,
    all_items,
    concurrent_writer,
    create,
    delete,
    get,
    head_key,
    history,
    invoke,
    list_page,
    patch,
    post,
    put,
    reply_of,
)
from tests.handlers import api_event, load_handler


def rows(stack: Any, item_id: str) -> list[dict]:
    """Every row of the id: the item (plain) or its head and versions (history)."""
    found = stack.table.query(KeyConditionExpression=Key("id").eq(item_id), ConsistentRead=True)
    return found["Items"]


def attributes(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in SERVER_FIELDS}


def write(context: Any, method: str, item_id: str, body: str = '{"v": "new"}', **kw: Any):
    """PUT, PATCH or DELETE (which takes no body) of one item."""
    if method == "PUT":
        return put(context, item_id, body, **kw)
    if method == "PATCH":
        return patch(context, item_id, body, **kw)
    return delete(context, item_id, **kw)


SUCCESS = {"PUT": 200, "PATCH": 200, "DELETE": 204}
WRITES = ["PUT", "PATCH", "DELETE"]


# -- versions and ETags -------------------------------------------------------------------------


def test_every_write_counts_one_version_and_every_item_answer_has_its_etag(stack, lambda_context):
    created = post(lambda_context, '{"id": "v", "n": 0}')
    replies = [
        created,
        put(lambda_context, "v", '{"n": 1}'),
        patch(lambda_context, "v", '{"m": 2}'),
        put(lambda_context, "v", '{"n": 3}', headers={"If-Match": '"3"'}),
        patch(lambda_context, "v", '{"n": 4}', headers={"If-Match": "4"}),
    ]
    assert [r.status for r in replies] == [201, 200, 200, 200, 200]
    assert [r.body["version"] for r in replies] == [1, 2, 3, 4, 5]
    assert [r.headers["ETag"] for r in replies] == ['"1"', '"2"', '"3"', '"4"', '"5"']
    assert all(r.headers["Access-Control-Expose-Headers"] == "ETag" for r in replies)
    current = get(lambda_context, "v")
    assert (current.body, current.headers["ETag"]) == (replies[-1].body, '"5"')
    assert current.body["created_at"] == created.body["created_at"]
    (listed,) = list_page(lambda_context).body["items"]
    assert listed["version"] == 5
    assert stack.table.get_item(Key=head_key(stack, "v"))["Item"]["version"] == 5


def test_answers_without_an_item_have_no_etag(stack, lambda_context):
    create(lambda_context, {"id": "e"})
    assert "ETag" not in delete(lambda_context, "e").headers
    assert "ETag" not in get(lambda_context, "e").headers  # 404
    assert "ETag" not in put(lambda_context, "e", "{").headers  # 400


def test_a_post_body_may_not_set_the_version(stack, lambda_context):
    reply = post(lambda_context, '{"id": "p", "version": 7}')
    assert (reply.status, reply.error_code) == (400, "INVALID_ITEM")
    assert reply.body["error"]["message"] == "version is set by the server"
    assert all_items(stack.table) == []


@pytest.mark.parametrize("stored_version", [None, "abc", Decimal("1.5"), Decimal(-3)])
def test_a_row_without_a_version_of_ours_is_version_0(stack, lambda_context, stored_version):
    """Rows written before versions existed (or outside the API): readable, lockable, never a
    5xx; the next write makes them version 1."""
    row = {**head_key(stack, "old"), "v": 1}
    if stored_version is not None:
        row["version"] = stored_version
    stack.table.put_item(Item=row)
    reply = get(lambda_context, "old")
    assert (reply.status, reply.body["version"], reply.headers["ETag"]) == (200, 0, '"0"')
    stale = put(lambda_context, "old", "{}", headers={"If-Match": "1"})
    assert (stale.status, stale.error_code) == (412, "PRECONDITION_FAILED")
    written = put(lambda_context, "old", '{"v": 2}', headers={"If-Match": "0"})
    assert (written.status, written.body["version"]) == (200, 1)
    assert patch(lambda_context, "old", '{"w": 3}').body["version"] == 2


# -- If-Match ------------------------------------------------------------------------------------

IF_MATCH = [
    # (id, header name, header value, outcome): "ok", "stale" (412) or "bad" (400)
    ("quoted", "If-Match", '"2"', "ok"),
    ("bare", "If-Match", "2", "ok"),
    ("any", "If-Match", "*", "ok"),
    ("spaces", "If-Match", ' "2" ', "ok"),
    ("lower-case-name", "if-match", '"2"', "ok"),
    ("upper-case-name", "IF-MATCH", "2", "ok"),
    ("older", "If-Match", '"1"', "stale"),
    ("newer", "If-Match", '"3"', "stale"),
    ("zero", "If-Match", "0", "stale"),
    ("lower-case-stale", "if-match", "1", "stale"),
    ("empty", "If-Match", "", "bad"),
    ("word", "If-Match", "abc", "bad"),
    ("weak", "If-Match", 'W/"2"', "bad"),
    ("open-quote", "If-Match", '"2', "bad"),
    ("list", "If-Match", '"1", "2"', "bad"),
    ("negative", "If-Match", "-2", "bad"),
    ("decimal", "If-Match", "2.0", "bad"),
    ("quoted-star", "If-Match", '"*"', "bad"),
    ("too-long", "If-Match", "9" * 19, "bad"),
]


@pytest.mark.parametrize(
    ("name", "value", "outcome"), [c[1:] for c in IF_MATCH], ids=[c[0] for c in IF_MATCH]
)
@pytest.mark.parametrize("method", WRITES)
def test_if_match(stack, lambda_context, method, name, value, outcome):
    create(lambda_context, {"id": "m", "v": "old"})
    current = put(lambda_context, "m", '{"v": "current"}').body  # version 2
    before = rows(stack, "m")
    reply = write(lambda_context, method, "m", headers={name: value})
    if outcome == "ok":
        assert reply.status == SUCCESS[method], reply.raw
        if method == "DELETE":
            assert get(lambda_context, "m").status == 404
        else:
            assert reply.body["version"] == 3 and reply.body["v"] == "new"
        return
    status, code = {"stale": (412, "PRECONDITION_FAILED"), "bad": (400, "INVALID_VERSION")}[outcome]
    assert (reply.status, reply.error_code) == (status, code)
    assert rows(stack, "m") == before  # nothing written
    assert get(lambda_context, "m").body == current


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("value", ['"1"', "*"])
def test_if_match_on_a_missing_item_is_404_never_an_upsert(stack, lambda_context, method, value):
    reply = write(lambda_context, method, "ghost", headers={"If-Match": value})
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")
    assert all_items(stack.table) == []


@pytest.mark.parametrize("method", WRITES)
def test_if_match_on_a_deleted_item_is_404(stack, lambda_context, method):
    create(lambda_context, {"id": "gone"})
    assert delete(lambda_context, "gone").status == 204
    reply = write(lambda_context, method, "gone", headers={"If-Match": '"1"'})
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_a_stale_version_writes_nothing_after_many_writes(stack, lambda_context):
    create(lambda_context, {"id": "s", "n": 0})
    for n in range(1, 5):
        put(lambda_context, "s", json.dumps({"n": n}))
    before = rows(stack, "s")
    for method in WRITES:
        for stale in range(1, 5):
            reply = write(lambda_context, method, "s", headers={"If-Match": f'"{stale}"'})
            assert (reply.status, reply.error_code) == (412, "PRECONDITION_FAILED")
    assert rows(stack, "s") == before
    assert get(lambda_context, "s").body["n"] == 4


# -- the body's version --------------------------------------------------------------------------

BODY_VERSIONS = [
    # (id, If-Match or None, body version as JSON, status, code)
    ("current", None, "2", 200, None),
    ("current-as-decimal", None, "2.0", 200, None),
    ("stale", None, "1", 412, "PRECONDITION_FAILED"),
    ("ahead", None, "9", 412, "PRECONDITION_FAILED"),
    ("agrees-with-if-match", '"2"', "2", 200, None),
    ("star-and-current", "*", "2", 200, None),
    ("star-and-stale", "*", "1", 412, "PRECONDITION_FAILED"),
    ("disagrees-with-if-match", '"2"', "1", 400, "INVALID_VERSION"),
    ("string", None, '"2"', 400, "INVALID_VERSION"),
    ("null", None, "null", 400, "INVALID_VERSION"),
    ("boolean", None, "true", 400, "INVALID_VERSION"),
    ("fraction", None, "1.5", 400, "INVALID_VERSION"),
    ("negative", None, "-1", 400, "INVALID_VERSION"),
    ("huge", None, "1e30", 400, "INVALID_VERSION"),
    ("object", None, '{"n": 2}', 400, "INVALID_VERSION"),
]


@pytest.mark.parametrize(
    ("if_match", "version", "status", "code"),
    [c[1:] for c in BODY_VERSIONS],
    ids=[c[0] for c in BODY_VERSIONS],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_body_version_is_a_precondition(
    stack, lambda_context, method, if_match, version, status, code
):
    create(lambda_context, {"id": "b", "v": "old"})
    current = put(lambda_context, "b", '{"v": "current"}').body  # version 2
    headers = {} if if_match is None else {"If-Match": if_match}
    body = f'{{"v": "new", "version": {version}}}'
    reply = write(lambda_context, method, "b", body, headers=headers)
    assert reply.status == status, reply.raw
    if code is None:
        assert (reply.body["v"], reply.body["version"]) == ("new", 3)
        assert "version" not in attributes(rows(stack, "b")[0])  # not stored as an attribute
    else:
        assert reply.error_code == code
        assert get(lambda_context, "b").body == current


# -- races ---------------------------------------------------------------------------------------


def _writer_hook(stack: Any, method: str) -> tuple[str, Any]:
    """The botocore event just before our write, and a hook that has another client write the
    item first (as the API would: the next version)."""
    operation = (
        "TransactWriteItems"
        if history(stack)
        else {"PUT": "UpdateItem", "PATCH": "UpdateItem", "DELETE": "DeleteItem"}[method]
    )
    return f"before-call.dynamodb.{operation}", concurrent_writer(
        stack.table, head_key(stack, "race"), 1
    )


@pytest.mark.parametrize("method", WRITES)
def test_a_race_lost_with_if_match_is_412_from_the_conditional_write(
    stack, lambda_context, dynamodb_hooks, method
):
    """Our read sees version 1 (the precondition holds); another writer makes it 2 before our
    write: DynamoDB's condition refuses it, and nothing of ours is written."""
    create(lambda_context, {"id": "race", "v": 0})
    dynamodb_hooks(*_writer_hook(stack, method))
    reply = write(lambda_context, method, "race", headers={"If-Match": '"1"'})
    assert (reply.status, reply.error_code) == (412, "PRECONDITION_FAILED")
    current = rows(stack, "race")[0]
    assert (current["version"], current["winner"], current["v"]) == (2, 0, 0)
    assert "deleted_at" not in current
    assert len(rows(stack, "race")) == (2 if history(stack) else 1)  # no version row of ours


@pytest.mark.parametrize("method", WRITES)
def test_a_race_lost_without_a_precondition_is_retried(
    stack, lambda_context, dynamodb_hooks, method
):
    create(lambda_context, {"id": "race", "v": 0})
    dynamodb_hooks(*_writer_hook(stack, method))
    reply = write(lambda_context, method, "race")
    assert reply.status == SUCCESS[method], reply.raw
    if method != "DELETE":
        assert (reply.body["version"], reply.body["v"]) == (3, "new")


# -- concurrency: many writers with the same If-Match -------------------------------------------

WRITERS = 50


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in-process answers each request in the calling thread without a lock, so two
    threads' conditional writes could interleave between moto's condition check and its write,
    which DynamoDB never allows. One lock around each mocked request gives moto DynamoDB's
    per-request atomicity; our code's read-then-write still races freely between requests."""
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_concurrent_writes_with_the_same_if_match_have_one_winner(
    stack, lambda_context, atomic_requests, method
):
    create(lambda_context, {"id": "hot", "n": -1})
    name, verb = {"PUT": ("update_item", "PUT"), "PATCH": ("patch_item", "PATCH")}[method]
    # One handler module (and so one boto3 resource) per thread, loaded and warmed up here:
    # load_handler swaps modules in sys.modules, which threads must not do at once.
    handlers = []
    for _ in range(WRITERS):
        module = load_handler(name)
        module.items.dynamo.table()  # the cached table resource of its items_common
        handlers.append(module)
    start = threading.Barrier(WRITERS)

    def one(i: int) -> tuple[int, Any]:
        event = api_event(
            verb,
            "/items/hot",
            path_parameters={"id": "hot"},
            body=json.dumps({"n": i, f"only_{i}": True}),
            headers={"If-Match": '"1"'},
        )
        start.wait()
        return i, reply_of(handlers[i].lambda_handler(event, lambda_context))

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(one, range(WRITERS)))
    statuses = sorted(reply.status for _, reply in results)
    assert statuses == [200] + [412] * (WRITERS - 1)
    assert all(reply.status in STATUSES[name] for _, reply in results)
    assert all(r.error_code == "PRECONDITION_FAILED" for _, r in results if r.status == 412)
    ((winner, won),) = [(i, reply) for i, reply in results if reply.status == 200]
    final = get(lambda_context, "hot").body
    assert final == won.body and final["version"] == 2
    assert attributes(final) == {"id": "hot", "n": winner, f"only_{winner}": True}
    if history(stack):
        assert len(rows(stack, "hot")) == 3  # the head, and one version row per write


def test_the_versions_listing_numbers_the_items_versions(stack, lambda_context):
    create(lambda_context, {"id": "l", "n": 0})
    put(lambda_context, "l", '{"n": 1}')
    patch(lambda_context, "l", '{"m": 2}')
    event = api_event("GET", "/items/l/versions", path_parameters={"id": "l"})
    listing = invoke("list_versions", event, lambda_context).body["items"]
    expected = [3, 2, 1] if history(stack) else [3]  # plain mode: the current one
    assert [v["version"] for v in listing] == expected
    assert listing[0] == {**get(lambda_context, "l").body, "deleted": False}
