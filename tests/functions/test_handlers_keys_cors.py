"""Phase 1 of the configurable table: a partition key not called `id`, and the CORS headers of
every response. Same style as test_handlers.py: the handlers as API Gateway invokes them, on the
template's own table and bucket (moto)."""

import base64
import json
from typing import Any

import pytest

from tests import handler_client as api
from tests.handlers import api_event


@pytest.fixture
def item_id_table(make_stack):
    """A deployment whose partition key attribute is `itemId`."""
    return make_stack(PartitionKeyName="itemId").table


def _token(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def test_a_renamed_partition_key_keeps_the_api_field_id(item_id_table, lambda_context):
    created = api.create(lambda_context, {"id": "k1", "v": 1})
    assert created["id"] == "k1" and "itemId" not in created
    row = item_id_table.get_item(Key={"itemId": "k1"}, ConsistentRead=True)["Item"]
    assert row["itemId"] == "k1" and "id" not in row
    assert api.get(lambda_context, "k1").body == created

    updated = api.put(lambda_context, "k1", '{"v": 2, "id": "k1"}')
    assert (updated.status, updated.body["id"], updated.body["v"]) == (200, "k1", 2)
    assert api.get(lambda_context, "k1").body == updated.body
    assert api.put(lambda_context, "ghost", "{}").status == 404

    assert api.post(lambda_context, '{"id": "k1"}').status == 409
    assert [i["id"] for i in api.list_page(lambda_context).body["items"]] == ["k1"]
    assert api.delete(lambda_context, "k1").status == 204
    assert item_id_table.get_item(Key={"itemId": "k1"}).get("Item") is None
    assert [api.delete(lambda_context, "k1").status, api.get(lambda_context, "k1").status] == [
        404,
        404,
    ]


def test_a_renamed_partition_key_pages_with_its_own_tokens(item_id_table, lambda_context):
    created = {api.create(lambda_context, {"id": f"p{i}"})["id"] for i in range(5)}
    seen: list[str] = []
    query = {"limit": "2"}
    for _ in range(5):
        body = api.list_page(lambda_context, query).body
        seen += [item["id"] for item in body["items"]]
        assert all(
            set(item) == {"id", "created_at", "updated_at", "version"} for item in body["items"]
        )
        if body["next_token"] is None:
            break
        key = json.loads(base64.urlsafe_b64decode(body["next_token"] + "=="))
        assert set(key) == {"itemId"}
        query = {"limit": "2", "next_token": body["next_token"]}
    assert sorted(seen) == sorted(created)


@pytest.mark.parametrize(
    "key", [{"id": "p1"}, {"itemId": "p1", "id": "p1"}, {"itemId": 5}, {"itemId": ""}]
)
def test_a_renamed_partition_key_refuses_tokens_of_other_keys(item_id_table, lambda_context, key):
    reply = api.list_page(lambda_context, {"next_token": _token(key)})
    assert (reply.status, reply.error_code) == (400, "INVALID_TOKEN")


@pytest.mark.parametrize("body", ['{"itemId": "x"}', '{"id": "a", "itemId": "b"}'])
def test_the_table_key_name_is_not_an_attribute_a_body_may_set(item_id_table, lambda_context, body):
    api.assert_refused(lambda_context, body, put_to="a")


# -- CORS --------------------------------------------------------------------------------------

CORS_CASES = [
    # (id, CORS_ALLOW_ORIGIN, CORS_ALLOW_CREDENTIALS, expected CORS headers)
    ("any-origin", "*", "false", {"Access-Control-Allow-Origin": "*"}),
    (
        "one-origin",
        "https://example.com",
        "false",
        {"Access-Control-Allow-Origin": "https://example.com", "Vary": "Origin"},
    ),
    (
        "one-origin-credentials",
        "https://example.com:8443",
        "true",
        {
            "Access-Control-Allow-Origin": "https://example.com:8443",
            "Vary": "Origin",
            "Access-Control-Allow-Credentials": "true",
        },
    ),
    # the template refuses this pair; should it ever arrive, credentials are not announced
    ("any-origin-credentials-ignored", "*", "true", {"Access-Control-Allow-Origin": "*"}),
]
CORS_HEADERS = {"Access-Control-Allow-Origin", "Vary", "Access-Control-Allow-Credentials"}


def _replies(context: Any, dynamodb_hooks: Any) -> dict[str, Any]:
    """One reply of every kind: success, created, no content, 4xx of each family, and 500."""
    replies = {
        "health-200": api.invoke("health", api_event("GET", "/"), context),
        "create-201": api.post(context, '{"id": "c", "v": 1}'),
        "get-200": api.get(context, "c"),
        "list-200": api.list_page(context),
        "put-200": api.put(context, "c", '{"v": 2}'),
        "delete-204": api.delete(context, "c"),
        "get-404": api.get(context, "c"),
        "create-400": api.post(context, "{not json"),
        "create-413": api.post(context, '{"a": "' + "x" * 70_000 + '"}'),
    }
    api.create(context, {"id": "twice"})
    replies["create-409"] = api.post(context, '{"id": "twice"}')
    dynamodb_hooks("before-call.dynamodb", api.raise_client_error)
    replies["get-500"] = api.get(context, "twice")
    return replies


@pytest.mark.parametrize(
    ("origin", "credentials", "expected"),
    [c[1:] for c in CORS_CASES],
    ids=[c[0] for c in CORS_CASES],
)
def test_every_response_carries_the_cors_headers(
    items_table, lambda_context, dynamodb_hooks, monkeypatch, origin, credentials, expected
):
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", origin)
    monkeypatch.setenv("CORS_ALLOW_CREDENTIALS", credentials)
    replies = _replies(lambda_context, dynamodb_hooks)
    statuses = {name: reply.status for name, reply in replies.items()}
    assert statuses == {name: int(name.rsplit("-", 1)[1]) for name in replies}
    assert replies["get-500"].body == api.GENERIC_500
    for name, reply in replies.items():
        cors = {k: v for k, v in reply.headers.items() if k in CORS_HEADERS}
        assert cors == expected, name
        assert reply.headers["Content-Type"] == "application/json"
