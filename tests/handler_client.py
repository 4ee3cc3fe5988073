"""Calling the handlers as API Gateway does, for the handler tests: one place for the request
helpers, the bad bodies every write refuses and the failure injections every
tests/functions/test_handlers*.py file uses."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from templates.catalog import ROUTES
from tests.handlers import api_event, load_handler

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
MAX_BODY = 64 * 1024
GENERIC_500 = {"error": {"code": "INTERNAL", "message": "internal error"}}
# Every status each route may answer with (templates/catalog.py, which the OpenAPI document
# lists); 500 is the answer to an AWS failure, on any route.
STATUSES = {spec.name: {*spec.statuses, 500} for spec in ROUTES}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def exact(self) -> Any:
        """The body with every number as a Decimal: compares values without float rounding."""
        return json.loads(self.raw, parse_float=Decimal, parse_int=Decimal)

    @property
    def error_code(self) -> str:
        return self.body["error"]["code"]


def reply_of(response: dict) -> Reply:
    reply = Reply(response["statusCode"], response["headers"], response["body"])
    assert reply.headers["Content-Type"] == "application/json"
    if reply.status != 204:
        reply.body  # noqa: B018 -- every non-204 body is JSON
    return reply


def invoke(name: str, event: dict, context: Any) -> Reply:
    """The function's answer to `event`, which must be a status its catalog row lists."""
    reply = reply_of(load_handler(name).lambda_handler(event, context))
    assert reply.status in STATUSES[name], f"{name} answered {reply.status}: not in catalog.py"
    return reply


def post(context: Any, body: str | bytes | None, **kwargs: Any) -> Reply:
    return invoke("create_item", api_event("POST", "/items", body=body, **kwargs), context)


def get(context: Any, item_id: str) -> Reply:
    event = api_event("GET", f"/items/{item_id}", path_parameters={"id": item_id})
    return invoke("get_item", event, context)


def put(context: Any, item_id: str, body: str | bytes | None, **kwargs: Any) -> Reply:
    event = api_event(
        "PUT", f"/items/{item_id}", path_parameters={"id": item_id}, body=body, **kwargs
    )
    return invoke("update_item", event, context)


def patch(context: Any, item_id: str, body: str | bytes | None, **kwargs: Any) -> Reply:
    event = api_event(
        "PATCH", f"/items/{item_id}", path_parameters={"id": item_id}, body=body, **kwargs
    )
    return invoke("patch_item", event, context)


def delete(context: Any, item_id: str, **kwargs: Any) -> Reply:
    event = api_event("DELETE", f"/items/{item_id}", path_parameters={"id": item_id}, **kwargs)
    return invoke("delete_item", event, context)


def list_page(context: Any, query: dict | None = None) -> Reply:
    return invoke("list_items", api_event("GET", "/items", query=query), context)


def create(context: Any, item: dict) -> dict:
    reply = post(context, json.dumps(item))
    assert reply.status == 201, reply.raw
    return reply.body


def assert_refused(context: Any, body: str, put_to: str | None = None) -> Reply:
    """A POST of `body` answers 400 INVALID_ITEM; given `put_to`, so does a PUT of it to that
    item (created first, so the 400 is the body's, not a 404). Returns the POST's reply."""
    reply = post(context, body)
    assert (reply.status, reply.error_code) == (400, "INVALID_ITEM")
    if put_to is not None:
        create(context, {"id": put_to})
        replaced = put(context, put_to, body)
        assert (replaced.status, replaced.error_code) == (400, "INVALID_ITEM")
    return reply


def nested(depth: int) -> str:
    """An item whose attribute holds `depth` nested lists (the item itself is one more level)."""
    return '{"a": ' + "[" * depth + "]" * depth + "}"


# Bodies that POST, PUT and PATCH all refuse, and how (id, body, status, code): one set of body
# rules (items_common.validation) whatever the method, so one table for the three.
BAD_BODIES = [
    ("none", None, 400, "BAD_REQUEST"),
    ("empty", "", 400, "BAD_REQUEST"),
    ("not-json", "{not json", 400, "INVALID_JSON"),
    ("whitespace", "   ", 400, "INVALID_JSON"),
    ("bom", "\ufeff{}", 400, "INVALID_JSON"),
    ("very-deep", "[" * 30_000 + "]" * 30_000, 400, "INVALID_JSON"),
    ("array", "[1, 2]", 400, "INVALID_ITEM"),
    ("array-of-one", "[1]", 400, "INVALID_ITEM"),
    ("string", '"text"', 400, "INVALID_ITEM"),
    ("number", "42", 400, "INVALID_ITEM"),
    ("small-number", "5", 400, "INVALID_ITEM"),
    ("null", "null", 400, "INVALID_ITEM"),
    ("created-at", '{"created_at": "2020-01-01T00:00:00.000000Z"}', 400, "INVALID_ITEM"),
    ("created-at-text", '{"created_at": "x"}', 400, "INVALID_ITEM"),
    ("created-at-null", '{"created_at": null}', 400, "INVALID_ITEM"),
    ("updated-at", '{"updated_at": "x"}', 400, "INVALID_ITEM"),
    ("updated-at-null", '{"updated_at": null}', 400, "INVALID_ITEM"),
    ("file-key-null", '{"file_key": null}', 400, "INVALID_ITEM"),
    ("file-content-number", '{"file_content": 5}', 400, "INVALID_ITEM"),
    ("id-null", '{"id": null}', 400, "INVALID_ITEM"),
    ("id-malformed", '{"id": "a b"}', 400, "INVALID_ITEM"),
    ("empty-name", '{"": 1}', 400, "INVALID_ITEM"),
    ("empty-name-in-object", '{"o": {"": 1}}', 400, "INVALID_ITEM"),
    ("empty-nested-name", '{"a": {"b": [{"": 1}]}}', 400, "INVALID_ITEM"),
    ("lone-surrogate", '{"a": "\\ud800"}', 400, "INVALID_ITEM"),
    ("lone-surrogate-name", '{"\\udfff": 1}', 400, "INVALID_ITEM"),
    ("too-deep", nested(32), 400, "INVALID_ITEM"),
    ("101-attributes", json.dumps({f"a{i}": i for i in range(101)}), 400, "INVALID_ITEM"),
    ("101-null-attributes", json.dumps({f"a{i}": None for i in range(101)}), 400, "INVALID_ITEM"),
    ("nan", '{"a": NaN}', 400, "INVALID_NUMBER"),
    ("infinity", '{"a": Infinity}', 400, "INVALID_NUMBER"),
    ("minus-infinity", '{"a": [-Infinity]}', 400, "INVALID_NUMBER"),
    ("39-digits", '{"a": 123456789012345678901234567890123456789}', 400, "INVALID_NUMBER"),
    ("40-digits", '{"a": 1234567890123456789012345678901234567890}', 400, "INVALID_NUMBER"),
    ("1e-400", '{"a": 1e-400}', 400, "INVALID_NUMBER"),
    ("inexact-decimal", '{"a": 0.12345678901234567890}', 400, "INVALID_NUMBER"),
    ("too-large", '{"a": 1e126}', 400, "INVALID_NUMBER"),
    ("too-small", '{"a": 1e-131}', 400, "INVALID_NUMBER"),
    ("huge-exponent", '{"a": 1e999999}', 400, "INVALID_NUMBER"),
    # Beyond Decimal's own exponent limit: InvalidOperation, not a ValueError (#16 item 10).
    ("exponent-beyond-decimal", '{"n": 1e99999999999999999999}', 400, "INVALID_NUMBER"),
    ("zero-exponent-beyond-decimal", '{"n": 0e-99999999999999999999}', 400, "INVALID_NUMBER"),
    ("version-beyond-decimal", '{"version": 1e99999999999999999999}', 400, "INVALID_NUMBER"),
    ("zero-version-beyond-decimal", '{"version": 0e-99999999999999999999}', 400, "INVALID_NUMBER"),
    ("huge-int", '{"a": ' + "9" * 5000 + "}", 400, "INVALID_NUMBER"),
    ("over-limit", '{"a": "' + "x" * MAX_BODY + '"}', 413, "PAYLOAD_TOO_LARGE"),
    ("over-limit-in-bytes", '{"a": "' + "ü" * (MAX_BODY // 2) + '"}', 413, "PAYLOAD_TOO_LARGE"),
]


def bad_bodies(*more: tuple[str, str | None, int, str]) -> pytest.MarkDecorator:
    """Parametrizes (body, status, code) with BAD_BODIES and a method's `more` rows, each row's
    id its first item."""
    rows = [*BAD_BODIES, *more]
    return pytest.mark.parametrize(
        ("body", "status", "code"), [r[1:] for r in rows], ids=[r[0] for r in rows]
    )


def stored(table: Any, item_id: str) -> dict | None:
    return table.get_item(Key={"id": item_id}, ConsistentRead=True).get("Item")


def all_items(table: Any) -> list[dict]:
    return table.scan(ConsistentRead=True)["Items"]


SECRET = "arn:aws:dynamodb:us-west-2:123456789012:table/secret-table-name"


def raise_client_error(**kwargs: Any) -> None:
    """An AWS error that no retry cures (the deployment is wrong): a 500 that pages as a bug.
    (Throttles and 5xx are 503s: tests/functions/test_faults.py.)"""
    raise ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": SECRET}},
        kwargs["model"].name,
    )


def raise_throttle(**kwargs: Any) -> None:
    """DynamoDB refusing for capacity, as botocore raises it once its retries are spent."""
    raise ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        kwargs["model"].name,
    )


def raise_runtime_error(**_: Any) -> None:
    raise RuntimeError(f"unexpected failure near {SECRET}")


def concurrent_writer(table: Any, key: dict, times: int) -> Callable:
    """A botocore hook that, before each of our first `times` writes, has another client change
    the item at `key` as the API would (a new updated_at and the next version), so our
    optimistic condition fails."""
    calls = iter(range(times))

    def write(**_: Any) -> None:
        i = next(calls, None)
        if i is not None:
            table.update_item(
                Key=key,
                UpdateExpression=(
                    "SET updated_at = :t, winner = :w, version = if_not_exists(version, :z) + :one"
                ),
                ExpressionAttributeValues={
                    ":t": f"2030-01-01T00:00:00.{i:06d}Z",
                    ":w": i,
                    ":z": 0,
                    ":one": 1,
                },
            )

    return write


def drop_table(table: Any) -> None:
    """Make every DynamoDB call fail by deleting the table. The template protects it from
    deletion (TableDeletionProtection), so that must be lifted first."""
    table.meta.client.update_table(TableName=table.name, DeletionProtectionEnabled=False)
    table.delete()


SERVER_FIELDS = ("created_at", "updated_at", "version")


def history(stack: Any) -> bool:
    """Whether a make_stack Stack (tests/moto_stack.py) is in history mode (a sort key)."""
    return bool(stack.parameters.get("SortKeyName"))


def head_key(stack: Any, item_id: str) -> dict:
    """The key of an item's current row (history mode: its head, sort key 0)."""
    return {"id": item_id, "timestamp": 0} if history(stack) else {"id": item_id}
