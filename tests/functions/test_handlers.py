"""The handlers as API Gateway invokes them, against the template's own table on moto.

Assertions are what a client or operator notices: status, JSON body, headers, what is in the
table, and the logs of a 500. AWS failures and concurrent writers are injected at the botocore
level (event hooks on the session the handlers use), not by patching our code.
"""

import base64
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests import handler_client as api
from tests.handlers import api_event

TABLE_FUNCTIONS = [
    "list_items",
    "get_item",
    "create_item",
    "update_item",
    "patch_item",
    "delete_item",
]


# -- GET / -------------------------------------------------------------------------------------


def test_health_answers_ok_with_the_stage(aws_env, lambda_context):
    reply = api.invoke("health", api_event("GET", "/"), lambda_context)
    assert (reply.status, reply.body) == (200, {"status": "ok", "stage": "test"})


# -- POST /items -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"id": "item-1", "name": "one"},
        {"id": "A.b_c-9", "nested": {"list": [1, "two", None, True, {"x": []}]}, "empty": ""},
        {"id": "x" * 128},
        {"id": "0"},
    ],
    ids=["simple", "nested", "longest-id", "shortest-id"],
)
def test_create_stores_the_item_with_timestamps(items_table, lambda_context, item):
    reply = api.post(lambda_context, json.dumps(item))
    assert reply.status == 201
    body = reply.body
    assert {k: v for k, v in body.items() if k not in api.SERVER_FIELDS} == item
    assert api.TIMESTAMP.fullmatch(body["created_at"])
    assert body["updated_at"] == body["created_at"]
    assert (body["version"], reply.headers["ETag"]) == (1, '"1"')
    again = api.get(lambda_context, item["id"])
    assert (again.body, again.headers["ETag"]) == (body, '"1"')


def test_create_accepts_the_deepest_and_widest_items(items_table, lambda_context, dynamodb_hooks):
    deep = api.post(lambda_context, api.nested(31))  # the item and 31 list levels: DynamoDB's 32
    assert deep.status == 201
    assert api.stored(items_table, deep.body["id"])["a"] == json.loads(api.nested(31))["a"]
    wide = {"id": "wide", **{f"a{i}": i for i in range(99)}}  # 100 attributes with the id
    assert api.post(lambda_context, json.dumps(wide)).status == 201
    # and a PUT that removes all 99 and sets 100 others, in one expression within DynamoDB's
    # 4 KB expression limit (which moto does not enforce)
    expressions: list[str] = []
    dynamodb_hooks(
        "before-parameter-build.dynamodb.UpdateItem",
        lambda params, **_: expressions.append(params["UpdateExpression"]),
    )
    reply = api.put(lambda_context, "wide", json.dumps({f"b{i}": i for i in range(100)}))
    assert reply.status == 200
    assert len(expressions) == 1 and len(expressions[0].encode()) <= 4096
    assert set(api.stored(items_table, "wide")) == {"id", *api.SERVER_FIELDS} | {
        f"b{i}" for i in range(100)
    }


@pytest.mark.parametrize("body", ["{}", '{"name": "no id"}'])
def test_create_without_id_generates_a_uuid4(items_table, lambda_context, body):
    reply = api.post(lambda_context, body)
    assert reply.status == 201
    assert uuid.UUID(reply.body["id"]).version == 4
    assert api.stored(items_table, reply.body["id"]) is not None


def test_create_accepts_a_base64_encoded_body(items_table, lambda_context):
    raw = json.dumps({"id": "b64", "text": "grüße ✓"}).encode()
    reply = api.post(lambda_context, raw)  # bytes: api_event sends them with isBase64Encoded
    assert reply.status == 201
    assert api.stored(items_table, "b64")["text"] == "grüße ✓"


def test_create_accepts_a_body_of_exactly_the_limit(items_table, lambda_context):
    prefix, suffix = '{"id": "big", "pad": "', '"}'
    body = prefix + "x" * (api.MAX_BODY - len(prefix) - len(suffix)) + suffix
    assert len(body.encode()) == api.MAX_BODY
    assert api.post(lambda_context, body).status == 201


def test_create_existing_id_is_409_and_keeps_the_original(items_table, lambda_context):
    original = api.create(lambda_context, {"id": "dup", "v": 1})
    reply = api.post(lambda_context, json.dumps({"id": "dup", "v": 2}))
    assert (reply.status, reply.error_code) == (409, "CONFLICT")
    assert api.get(lambda_context, "dup").body == original


@api.bad_bodies()
def test_create_refuses_bad_bodies_and_stores_nothing(
    items_table, lambda_context, body, status, code
):
    reply = api.post(lambda_context, body)
    assert (reply.status, reply.error_code) == (status, code)
    assert api.all_items(items_table) == []


# A body id is part of the body's shape (item_schema.json): a bad one is INVALID_ITEM, as API
# Gateway's validation with the same schema reports it; a bad path id stays INVALID_ID.
@pytest.mark.parametrize(
    "body",
    [
        '{"id": "has space"}',
        '{"id": ""}',
        '{"id": "' + "x" * 129 + '"}',
        '{"id": "a/b"}',
        '{"id": "line\\n"}',
        '{"id": "ü"}',
        '{"id": 5}',
        '{"id": null}',
    ],
)
def test_create_refuses_bad_ids(items_table, lambda_context, body):
    reply = api.assert_refused(lambda_context, body)
    assert reply.body["error"]["message"].startswith("id: must ")
    assert api.all_items(items_table) == []


@pytest.mark.parametrize(
    ("raw_body", "code"),
    [
        ("%%% not base64 %%%", "INVALID_JSON"),
        (base64.b64encode(b"\xff\xfe\xfd").decode(), "INVALID_JSON"),  # not UTF-8
        (base64.b64encode(b"[1]").decode(), "INVALID_ITEM"),
        (base64.b64encode(b"x" * (api.MAX_BODY + 1)).decode(), "PAYLOAD_TOO_LARGE"),
    ],
    ids=["not-base64", "not-utf8", "not-object", "decoded-over-limit"],
)
def test_create_refuses_bad_base64_bodies(items_table, lambda_context, raw_body, code):
    event = api_event("POST", "/items", body="{}", is_base64=True)
    event["body"] = raw_body
    reply = api.invoke("create_item", event, lambda_context)
    assert reply.error_code == code
    assert reply.status == (413 if code == "PAYLOAD_TOO_LARGE" else 400)


# -- numbers -----------------------------------------------------------------------------------

ROUND_TRIP_NUMBERS = [
    "0.1",
    "-0.5",
    "2.5e-7",
    "1e20",
    "1E+125",
    "1e-130",
    "12345678901234567890123456789012345678",
    "-99999999999999999999999999999999999999",
    "1" + "0" * 40,  # 41 digits written, 1 significant
    "0",
    "1.50",
    "123456789.125",
]


@pytest.mark.parametrize("number", ROUND_TRIP_NUMBERS)
def test_numbers_keep_their_value(items_table, lambda_context, number):
    body = f'{{"id": "n", "top": {number}, "nested": {{"list": [{number}, {{"deep": {number}}}]}}}}'
    created = api.post(lambda_context, body)
    assert created.status == 201
    value = Decimal(number)
    for reply in (created, api.get(lambda_context, "n")):
        item = reply.exact
        assert item["top"] == value
        assert item["nested"]["list"][0] == value
        assert item["nested"]["list"][1]["deep"] == value
    assert api.stored(items_table, "n")["top"] == value


@pytest.mark.parametrize(
    ("number", "expected"),
    [("1e20", "100000000000000000000"), ("2.0", "2"), ("0.1", "0.1"), ("25e-1", "2.5")],
)
def test_integral_numbers_come_back_as_json_integers(items_table, lambda_context, number, expected):
    reply = api.post(lambda_context, f'{{"id": "n", "v": {number}}}')
    assert f'"v":{expected}' in reply.raw.replace(" ", "")
    assert f'"v":{expected}' in api.get(lambda_context, "n").raw.replace(" ", "")


# -- GET /items/{id} ---------------------------------------------------------------------------


def test_get_returns_the_item(items_table, lambda_context):
    item = api.create(lambda_context, {"id": "g", "v": [1, {"w": "x"}]})
    reply = api.get(lambda_context, "g")
    assert (reply.status, reply.body) == (200, item)


def test_get_missing_is_404(items_table, lambda_context):
    reply = api.get(lambda_context, "nope")
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


BAD_PATH_IDS = ["has space", "x" * 129, "a%2Fb", "ü", "a\n", "*"]


@pytest.mark.parametrize("item_id", BAD_PATH_IDS)
@pytest.mark.parametrize("function", ["get_item", "update_item", "patch_item", "delete_item"])
def test_bad_path_id_is_400(items_table, lambda_context, function, item_id):
    method = {
        "get_item": "GET",
        "update_item": "PUT",
        "patch_item": "PATCH",
        "delete_item": "DELETE",
    }[function]
    event = api_event(method, "/items/x", path_parameters={"id": item_id}, body="{}")
    reply = api.invoke(function, event, lambda_context)
    assert (reply.status, reply.error_code) == (400, "INVALID_ID")


@pytest.mark.parametrize("function", ["get_item", "update_item", "patch_item", "delete_item"])
def test_missing_path_parameters_is_400(items_table, lambda_context, function):
    event = api_event("GET", "/items/x", body="{}")
    assert event["pathParameters"] is None
    reply = api.invoke(function, event, lambda_context)
    assert (reply.status, reply.error_code) == (400, "INVALID_ID")


# -- PUT /items/{id} ---------------------------------------------------------------------------


def test_put_replaces_attributes_and_keeps_created_at(items_table, lambda_context):
    before = api.create(lambda_context, {"id": "u", "keep": 1, "drop": 2, "nested": {"a": 1}})
    reply = api.put(lambda_context, "u", json.dumps({"keep": 3, "new": "n", "nested": {"b": 0.5}}))
    assert reply.status == 200
    after = reply.body
    assert after["created_at"] == before["created_at"]
    assert api.TIMESTAMP.fullmatch(after["updated_at"])
    assert after["updated_at"] > before["updated_at"]
    assert (before["version"], after["version"], reply.headers["ETag"]) == (1, 2, '"2"')
    expected = {"id": "u", "keep": 3, "new": "n", "nested": {"b": 0.5}}
    assert {k: v for k, v in after.items() if k not in api.SERVER_FIELDS} == expected
    assert api.get(lambda_context, "u").body == after


def test_put_with_an_empty_object_removes_every_attribute(items_table, lambda_context):
    before = api.create(lambda_context, {"id": "e", "a": 1, "b": 2})
    reply = api.put(lambda_context, "e", "{}")
    assert reply.status == 200
    assert set(reply.body) == {"id", *api.SERVER_FIELDS}
    assert set(api.stored(items_table, "e")) == {"id", *api.SERVER_FIELDS}
    assert reply.body["created_at"] == before["created_at"]


@pytest.mark.parametrize(
    "names",
    [
        ["a.b", "#x", ":v", "SET", "size", "REMOVE x", "a b", "[0]", "= :x", "ü"],
        ["updated_at_", "ID", "Created_At"],
    ],
    ids=["expression-syntax-and-reserved-words", "near-server-names"],
)
def test_put_treats_every_name_as_data(items_table, lambda_context, names):
    api.create(lambda_context, {"id": "names", **{n: "old" for n in names}, "other": 0})
    keep, drop = names[: len(names) // 2], names[len(names) // 2 :]
    reply = api.put(lambda_context, "names", json.dumps({n: "new" for n in keep}))
    assert reply.status == 200
    item = api.stored(items_table, "names")
    assert {k: v for k, v in item.items() if k not in ("id", *api.SERVER_FIELDS)} == {
        n: "new" for n in keep
    }
    assert not set(drop) & set(item)


@pytest.mark.parametrize("body_id", ['"same"', None])
def test_put_accepts_the_path_id_or_no_id_in_the_body(items_table, lambda_context, body_id):
    api.create(lambda_context, {"id": "same", "v": 1})
    body = '{"v": 2' + (f', "id": {body_id}' if body_id else "") + "}"
    reply = api.put(lambda_context, "same", body)
    assert (reply.status, reply.body["id"], reply.body["v"]) == (200, "same", 2)


@pytest.mark.parametrize(
    ("body_id", "code"),
    [
        ('"other"', "INVALID_ID"),
        ("5", "INVALID_ITEM"),
        ("null", "INVALID_ITEM"),
        ('""', "INVALID_ITEM"),
    ],
)
def test_put_cannot_change_the_id(items_table, lambda_context, body_id, code):
    """A valid other id is INVALID_ID (immutable); one the schema refuses is INVALID_ITEM."""
    before = api.create(lambda_context, {"id": "fixed", "v": 1})
    reply = api.put(lambda_context, "fixed", f'{{"id": {body_id}, "v": 2}}')
    assert (reply.status, reply.error_code) == (400, code)
    assert api.get(lambda_context, "fixed").body == before
    assert api.stored(items_table, "other") is None


def test_put_missing_item_is_404_and_never_creates_it(items_table, lambda_context):
    reply = api.put(lambda_context, "ghost", '{"v": 1}')
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")
    assert api.all_items(items_table) == []


@api.bad_bodies()
def test_put_refuses_bad_bodies_and_changes_nothing(
    items_table, lambda_context, body, status, code
):
    before = api.create(lambda_context, {"id": "p", "v": 1})
    reply = api.put(lambda_context, "p", body)
    assert (reply.status, reply.error_code) == (status, code)
    assert api.get(lambda_context, "p").body == before


@pytest.mark.parametrize(("races", "status"), [(0, 200), (1, 200), (2, 200), (3, 409), (9, 409)])
def test_put_retries_a_lost_race_then_gives_409(
    items_table, lambda_context, dynamodb_hooks, races, status
):
    before = api.create(lambda_context, {"id": "race", "v": 0})
    dynamodb_hooks(
        "before-call.dynamodb.UpdateItem", api.concurrent_writer(items_table, {"id": "race"}, races)
    )
    reply = api.put(lambda_context, "race", '{"v": 1}')
    assert reply.status == status
    item = api.stored(items_table, "race")
    assert item["created_at"] == before["created_at"]
    if status == 200:  # on top of the other writer's versions
        version = 2 + races
        assert reply.body == {
            **before,
            "v": 1,
            "updated_at": reply.body["updated_at"],
            "version": version,
        }
        assert reply.body["updated_at"] > before["updated_at"]
        assert item == {**reply.body, "v": Decimal(1)}  # the other writer's attribute is gone
    else:
        assert reply.error_code == "CONFLICT"
        assert item["v"] == 0 and "winner" in item  # ours was never applied


def test_put_on_an_item_deleted_meanwhile_is_404_not_an_upsert(
    items_table, lambda_context, dynamodb_hooks
):
    api.create(lambda_context, {"id": "race", "v": 0})

    def concurrent_delete(**_: Any) -> None:  # a hook's return value would replace the call
        items_table.delete_item(Key={"id": "race"})

    dynamodb_hooks("before-call.dynamodb.UpdateItem", concurrent_delete)
    reply = api.put(lambda_context, "race", '{"v": 1}')
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")
    assert api.all_items(items_table) == []


def test_put_on_an_item_written_outside_the_api(items_table, lambda_context):
    items_table.put_item(Item={"id": "legacy", "old": "x"})  # no timestamps
    reply = api.put(lambda_context, "legacy", '{"v": 1}')
    assert reply.status == 200
    assert reply.body["v"] == 1 and "old" not in reply.body
    assert api.TIMESTAMP.fullmatch(reply.body["updated_at"])
    assert reply.body["version"] == 1  # it had none: version 0


# -- DELETE /items/{id} ------------------------------------------------------------------------


def test_delete_removes_the_item_with_204_and_an_empty_body(items_table, lambda_context):
    api.create(lambda_context, {"id": "d"})
    reply = api.delete(lambda_context, "d")
    assert (reply.status, reply.raw) == (204, "")
    assert api.stored(items_table, "d") is None
    assert api.get(lambda_context, "d").status == 404


def test_delete_missing_is_404(items_table, lambda_context):
    reply = api.delete(lambda_context, "nope")
    assert (reply.status, reply.error_code) == (404, "NOT_FOUND")


def test_delete_twice_is_204_then_404(items_table, lambda_context):
    api.create(lambda_context, {"id": "twice"})
    assert [api.delete(lambda_context, "twice").status for _ in range(2)] == [204, 404]


# -- GET /items --------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "limit"), [(0, 5), (1, 1), (7, 3), (10, 10), (6, 1), (12, 100)])
def test_list_pages_through_every_item_exactly_once(items_table, lambda_context, count, limit):
    created = {
        api.create(lambda_context, {"id": f"item-{i:02d}", "i": i})["id"] for i in range(count)
    }
    seen: list[str] = []
    query: dict[str, str] = {"limit": str(limit)}
    for _ in range(count + 2):  # bounded: at most one page per item, plus an empty last page
        reply = api.list_page(lambda_context, query)
        assert reply.status == 200
        body = reply.body
        assert body["count"] == len(body["items"]) <= limit
        assert all(api.TIMESTAMP.fullmatch(item["created_at"]) for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        if body["next_token"] is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", body["next_token"])  # URL-safe, no padding
        query = {"limit": str(limit), "next_token": body["next_token"]}
    else:
        pytest.fail("pagination did not end")
    assert sorted(seen) == sorted(created)


def test_list_default_limit_is_50(items_table, lambda_context):
    with items_table.batch_writer() as batch:
        for i in range(55):
            batch.put_item(Item={"id": f"i{i}"})
    first = api.list_page(lambda_context).body
    assert first["count"] == 50 and first["next_token"]
    second = api.list_page(lambda_context, {"next_token": first["next_token"]}).body
    assert {i["id"] for i in first["items"] + second["items"]} == {f"i{i}" for i in range(55)}


def test_list_returns_stored_numbers_exactly(items_table, lambda_context):
    api.create(lambda_context, {"id": "n", "v": 0.1, "big": 10**20})
    (item,) = api.list_page(lambda_context).exact["items"]
    assert (item["v"], item["big"]) == (Decimal("0.1"), 10**20)


@pytest.mark.parametrize("limit", ["1", "100", "050"])
def test_list_accepts_limits_1_to_100(items_table, lambda_context, limit):
    assert api.list_page(lambda_context, {"limit": limit}).status == 200


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", " 5", "1e2", "9999", "+5"])
def test_list_refuses_bad_limits(items_table, lambda_context, limit):
    reply = api.list_page(lambda_context, {"limit": limit})
    assert (reply.status, reply.error_code) == (400, "INVALID_LIMIT")


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token!",
        "abc",
        "a",
        _token(b"[]"),
        _token(b"null"),
        _token(b"{}"),
        _token(b'{"id": 5}'),
        _token(b'{"id": ""}'),
        _token(b'{"id": "\\ud800"}'),  # a lone surrogate: DynamoDB would refuse the key
        _token(b'{"id": "a", "extra": 1}'),
        _token(b'{"pk": "a"}'),
        _token(b'{"id": {"S": "a"}}'),
        _token(b"\xff\xfe"),
        _token(b"[" * 5000 + b"]" * 5000),
        _token(b'{"id": "a"}') + "==",
        _token(b'{"id": "' + b"x" * 2049 + b'"}'),  # past DynamoDB's 2,048 bytes
        "x" * 20_513,
    ],
)
def test_list_refuses_forged_or_garbage_tokens(items_table, lambda_context, token):
    reply = api.list_page(lambda_context, {"next_token": token})
    assert (reply.status, reply.error_code) == (400, "INVALID_TOKEN")


@pytest.mark.parametrize("item_id", [b"never-existed", b"bad id", b"x" * 2048, b"\xc3\xbc"])
def test_list_accepts_a_well_formed_token_for_any_id(items_table, lambda_context, item_id):
    api.create(lambda_context, {"id": "a"})
    reply = api.list_page(lambda_context, {"next_token": _token(b'{"id": "' + item_id + b'"}')})
    assert reply.status == 200


def test_rows_outside_the_id_pattern_do_not_end_the_listing(items_table, lambda_context):
    """Rows written by another tool are listed (docs/api.md); the token after one must be taken,
    or every later page is out of reach (#16 item 11)."""
    ids = ["a", "has space", "ü/slash", "x" * 300, "z"]
    for item_id in ids:
        items_table.put_item(Item={"id": item_id, "v": 1})
    seen, token = [], None
    for _ in range(len(ids) + 1):
        query = {"limit": "1", **({"next_token": token} if token else {})}
        reply = api.list_page(lambda_context, query)
        assert reply.status == 200, reply.raw
        seen += [i["id"] for i in reply.body["items"]]
        token = reply.body["next_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)


# -- errors never leak -------------------------------------------------------------------------


def _event_for(function: str) -> dict:
    one = {"path_parameters": {"id": "boom"}}
    return {
        "list_items": lambda: api_event("GET", "/items"),
        "get_item": lambda: api_event("GET", "/items/boom", **one),
        "create_item": lambda: api_event("POST", "/items", body='{"id": "boom"}'),
        "update_item": lambda: api_event("PUT", "/items/boom", body='{"v": 1}', **one),
        "patch_item": lambda: api_event("PATCH", "/items/boom", body='{"v": 1}', **one),
        "delete_item": lambda: api_event("DELETE", "/items/boom", **one),
    }[function]()


@pytest.mark.parametrize("hook", [api.raise_client_error, api.raise_runtime_error])
@pytest.mark.parametrize("function", TABLE_FUNCTIONS)
def test_aws_failures_are_a_generic_500_and_logged(
    items_table, lambda_context, dynamodb_hooks, fresh_logger, capsys, function, hook
):
    api.create(lambda_context, {"id": "boom"})
    dynamodb_hooks("before-call.dynamodb", hook)
    reply = api.invoke(function, _event_for(function), lambda_context)
    assert (reply.status, reply.body) == (500, api.GENERIC_500)
    logged = capsys.readouterr().out
    assert (
        "unhandled error" in logged and api.SECRET in logged
    )  # the operator sees it, not the client


@pytest.mark.parametrize("function", TABLE_FUNCTIONS)
def test_a_missing_table_is_a_generic_500(items_table, lambda_context, function):
    api.drop_table(items_table)
    reply = api.invoke(function, _event_for(function), lambda_context)
    assert (reply.status, reply.body) == (500, api.GENERIC_500)
    assert "ResourceNotFound" not in reply.raw and items_table.name not in reply.raw
